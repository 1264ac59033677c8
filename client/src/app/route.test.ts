import { describe, expect, it } from 'vitest'

import { consolePath, isConsole, linkKey, parseRoute } from './route'

describe('the routes', () => {
  it.each([
    ['/', { page: 'join', code: '' }],
    ['/join', { page: 'join', code: '' }],
    ['/join/482913', { page: 'join', code: '482913' }],
    ['/join/482%20913/', { page: 'join', code: '482 913' }],
    ['/join/%E0%A4%A', { page: 'join', code: '' }],
    ['/check', { page: 'check' }],
    ['/check/', { page: 'check' }],
    ['/console', { page: 'console' }],
    ['/console/', { page: 'console' }],
    ['/console/sessions/5f0c2a4e-1b1e-4a51-9a4e-0d9c8b7a6f51', { page: 'console_session', id: '5f0c2a4e-1b1e-4a51-9a4e-0d9c8b7a6f51' }],
    ['/console/sessions/abc/', { page: 'console_session', id: 'abc' }],
    ['/console/sessions', { page: 'not_found' }],
    ['/console/sessions/%E0%A4%A', { page: 'not_found' }],
    ['/console/sessions/a/b', { page: 'not_found' }],
    ['/console/elsewhere', { page: 'not_found' }],
    ['/elsewhere', { page: 'not_found' }],
  ])('%s is %o', (path, route) => {
    expect(parseRoute(path)).toEqual(route)
  })

  it('tells the console’s pages and writes their addresses back', () => {
    expect(isConsole(parseRoute('/console'))).toBe(true)
    expect(isConsole(parseRoute('/console/sessions/s1'))).toBe(true)
    expect(isConsole(parseRoute('/join/482913'))).toBe(false)
    expect(consolePath({ page: 'console' })).toBe('/console')
    expect(consolePath({ page: 'console_session', id: 's 1' })).toBe('/console/sessions/s%201')
    expect(parseRoute(consolePath({ page: 'console_session', id: 's 1' }))).toEqual({ page: 'console_session', id: 's 1' })
  })
})

describe('the key of a join link', () => {
  it.each([
    ['#k=q3J1xW0nB8a2c4dE6fG8hA', 'q3J1xW0nB8a2c4dE6fG8hA'],
    ['k=abc_-9', 'abc_-9'],
    ['#other=1&k=abc', 'abc'],
    ['', undefined],
    ['#k=', undefined],
    ['#k=<script>', undefined],
    [`#k=${'a'.repeat(65)}`, undefined],
  ])('is read from %j as %j', (hash, key) => {
    expect(linkKey(hash)).toBe(key)
  })
})
