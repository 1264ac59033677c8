import { describe, expect, it } from 'vitest'

import { parseRoute } from './route'

describe('the routes', () => {
  it.each([
    ['/', { page: 'join', code: '' }],
    ['/join', { page: 'join', code: '' }],
    ['/join/482913', { page: 'join', code: '482913' }],
    ['/join/482%20913/', { page: 'join', code: '482 913' }],
    ['/join/%E0%A4%A', { page: 'join', code: '' }],
    ['/check', { page: 'check' }],
    ['/check/', { page: 'check' }],
    ['/elsewhere', { page: 'not_found' }],
  ])('%s is %o', (path, route) => {
    expect(parseRoute(path)).toEqual(route)
  })
})
