import { describe, expect, it } from 'vitest'

import { checkJoin, normalizeCode } from './join'

const input = { code: '482913', name: 'Ana', classroom: false, headcount: '' }

describe('the join form', () => {
  it('tolerates spaces and dashes in the code', () => {
    expect(normalizeCode('482 913')).toBe('482913')
    expect(normalizeCode(' 482-913 ')).toBe('482913')
    expect(normalizeCode('48\u00a02 9-13')).toBe('482913')
  })

  it('builds a learner request with the name trimmed', () => {
    expect(checkJoin({ ...input, code: '482-913', name: '  Ana  ' })).toEqual({
      code: '482913',
      name: 'Ana',
      kind: 'learner',
    })
  })

  it('builds a classroom request with its headcount', () => {
    expect(checkJoin({ ...input, classroom: true, headcount: ' 24 ' })).toEqual({
      code: '482913',
      name: 'Ana',
      kind: 'classroom',
      headcount: 24,
    })
  })

  it.each([
    [{ code: '48291' }, 'code', 'errors.invalid_code'],
    [{ code: '48291a' }, 'code', 'errors.invalid_code'],
    [{ name: '   ' }, 'name', 'errors.invalid_name'],
    [{ name: 'x'.repeat(65) }, 'name', 'errors.invalid_name'],
    [{ name: '\u202eredaeT' }, 'name', 'errors.hidden_name'],
    [{ name: 'Ana\u200b' }, 'name', 'errors.hidden_name'],
    [{ name: 'A\ufeffna' }, 'name', 'errors.hidden_name'],
    [{ name: 'Ana\u{e0041}' }, 'name', 'errors.hidden_name'],
    [{ name: 'An\ta' }, 'name', 'errors.hidden_name'],
    [{ name: '\u200dAna' }, 'name', 'errors.hidden_name'],
    [{ classroom: true, headcount: '' }, 'headcount', 'errors.invalid_headcount'],
    [{ classroom: true, headcount: '0' }, 'headcount', 'errors.invalid_headcount'],
    [{ classroom: true, headcount: '501' }, 'headcount', 'errors.invalid_headcount'],
    [{ classroom: true, headcount: '2.5' }, 'headcount', 'errors.invalid_headcount'],
  ])('refuses %o on the %s field', (change, field, key) => {
    expect(checkJoin({ ...input, ...change })).toEqual({ field, key })
  })

  it('keeps a joiner between two visible characters, as in an emoji sequence', () => {
    expect(checkJoin({ ...input, name: 'Ana 👩\u200d🍳' })).toMatchObject({ name: 'Ana 👩\u200d🍳' })
  })

  it('counts a name in characters of one spelling, as the server does', () => {
    expect(checkJoin({ ...input, name: 'e\u0301'.repeat(64) })).toMatchObject({ kind: 'learner' })
  })

  it('counts a name in characters, as the server does', () => {
    expect(checkJoin({ ...input, name: 'é'.repeat(64) })).toMatchObject({ kind: 'learner' })
  })
})
