import { describe, expect, it } from 'vitest'

import { ApiError } from '../api/client'
import en from '../i18n/en.json'
import { consoleMessage, guardExpiry, isExpiry } from './errors'

function lookup(key: string): unknown {
  const flat = key.split('.').reduce<unknown>((node, part) => (node as Record<string, unknown> | undefined)?.[part], en)
  if (flat !== undefined) return flat
  return lookup(`${key}_other`) === undefined ? undefined : 'plural'
}

describe('what the teacher is told', () => {
  it.each([
    [401, 'invalid_api_key', 'console.errors.invalid_api_key'],
    [403, 'cross_origin', 'console.errors.cross_origin'],
    [401, 'unauthorized', 'console.errors.expired'],
    [404, 'not_found', 'console.errors.not_found'],
    [409, 'session_not_live', 'console.errors.session_not_live'],
    [409, 'floor_full', 'console.errors.floor_full'],
    [409, 'too_many_live_sessions', 'console.errors.too_many_live_sessions'],
    [503, 'too_many_sessions', 'console.errors.too_many_sessions'],
    [503, 'too_many_seats', 'console.errors.too_many_seats'],
    [409, 'queue_empty', 'console.errors.queue_empty'],
    [409, 'participant_left', 'console.errors.participant_left'],
    [409, 'cannot_kick_teacher', 'console.errors.cannot_kick_teacher'],
    [422, 'invalid_title', 'console.form.invalid_title'],
    [503, 'unavailable', 'errors.unavailable'],
    [0, 'network', 'errors.network'],
    [500, 'internal', 'console.errors.generic'],
  ])('%i %s is %s', (status, code, key) => {
    expect(consoleMessage(new ApiError(status, code))).toEqual({ key })
    expect(lookup(key)).toEqual(expect.any(String))
  })

  it('says how long to wait after too many attempts', () => {
    expect(consoleMessage(new ApiError(429, 'rate_limited', 9))).toEqual({ key: 'errors.rate_limited', values: { count: 9 } })
  })

  it('takes anything else thrown as the network failing', () => {
    expect(consoleMessage(new TypeError('x'))).toEqual({ key: 'errors.network' })
  })
})

describe('an expired sign-in', () => {
  const calls = {
    signIn: async (_key: string) => {
      throw new ApiError(401, 'invalid_api_key')
    },
    sessions: async () => {
      throw new ApiError(401, 'unauthorized')
    },
    floor: async (_id: string) => {
      throw new ApiError(409, 'session_not_live')
    },
    session: async (id: string) => ({ id }),
  }

  it('is any 401 from a call made while signed in, which still fails', async () => {
    let expired = 0
    const api = guardExpiry(calls, () => (expired += 1), ['signIn'])
    await expect(api.sessions()).rejects.toSatisfy(isExpiry)
    expect(expired).toBe(1)
    await expect(api.floor('s1')).rejects.toBeInstanceOf(ApiError)
    expect(await api.session('s1')).toEqual({ id: 's1' })
    expect(expired).toBe(1)
  })

  it('is not a wrong key at the sign-in', async () => {
    let expired = 0
    const api = guardExpiry(calls, () => (expired += 1), ['signIn'])
    await expect(api.signIn('estrade_x')).rejects.toSatisfy(isExpiry)
    expect(expired).toBe(0)
  })
})
