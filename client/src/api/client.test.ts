import { describe, expect, it } from 'vitest'

import en from '../i18n/en.json'
import { ApiError, createApi } from './client'

function respond(status: number, body: unknown, headers: Record<string, string> = {}) {
  const calls: { url: string; init: RequestInit | undefined }[] = []
  const api = createApi(async (input, init) => {
    calls.push({ url: String(input), init })
    return new Response(typeof body === 'string' ? body : JSON.stringify(body), {
      status,
      headers: { 'Content-Type': 'application/json', ...headers },
    })
  })
  return { api, calls }
}

const error = (code: string) => ({ error: { code, message: 'A sentence.' } })

async function failure(promise: Promise<unknown>): Promise<ApiError> {
  try {
    await promise
  } catch (e) {
    if (e instanceof ApiError) return e
    throw e
  }
  throw new Error('expected a failure')
}

function lookup(key: string): unknown {
  return key.split('.').reduce<unknown>((node, part) => (node as Record<string, unknown> | undefined)?.[part], en)
}

describe('the API client', () => {
  it('joins with a relative path, a JSON body and no credential', async () => {
    const { api, calls } = respond(200, { session_id: 's' })
    await api.join({ code: '482913', name: 'Ana', kind: 'learner' })
    expect(calls[0]?.url).toBe('/v1/join')
    expect(calls[0]?.init?.method).toBe('POST')
    expect(JSON.parse(String(calls[0]?.init?.body))).toEqual({ code: '482913', name: 'Ana', kind: 'learner' })
    expect((calls[0]?.init?.headers as Record<string, string>).Authorization).toBeUndefined()
  })

  it('sends the participant token as a bearer credential', async () => {
    const { api, calls } = respond(200, {})
    await api.lowerHand('s1', 'tok')
    expect(calls[0]?.url).toBe('/v1/sessions/s1/hand')
    expect(calls[0]?.init?.method).toBe('DELETE')
    expect((calls[0]?.init?.headers as Record<string, string>).Authorization).toBe('Bearer tok')
  })

  it.each([
    [404, 'unknown_code', 'errors.unknown_code', 'code'],
    [422, 'invalid_code', 'errors.invalid_code', 'code'],
    [422, 'invalid_name', 'errors.invalid_name', 'name'],
    [422, 'invalid_headcount', 'errors.invalid_headcount', 'headcount'],
    [409, 'session_full', 'errors.session_full', 'code'],
    [409, 'session_locked', 'errors.session_locked', 'code'],
    [409, 'session_not_started', 'errors.session_not_started', 'code'],
    [410, 'session_ended', 'errors.session_ended', 'code'],
    [409, 'hand_already_raised', 'errors.hand_already_raised', null],
    [409, 'floor_closed', 'errors.floor_closed', null],
    [401, 'token_revoked', 'errors.token_revoked', null],
    [503, 'unavailable', 'errors.unavailable', null],
    [500, 'internal', 'errors.generic', null],
  ])('maps %i %s to %s (field %s)', async (status, code, key, field) => {
    const { api } = respond(status, error(code))
    const e = await failure(api.join({ code: '1', name: 'x' }))
    expect([e.status, e.code, e.messageKey(), e.field()]).toEqual([status, code, key, field])
    expect(lookup(key)).toEqual(expect.any(String))
  })

  it('tells the wait of a 429 from Retry-After', async () => {
    const { api } = respond(429, error('rate_limited'), { 'Retry-After': '7' })
    const e = await failure(api.join({ code: '482913', name: 'Ana' }))
    expect(e.messageKey()).toBe('errors.rate_limited')
    expect(e.values()).toEqual({ count: 7 })
    expect(e.field()).toBe('code')
  })

  it('keeps the status of an answer that is not the API’s error shape', async () => {
    const { api } = respond(502, '<html>Bad gateway</html>')
    const e = await failure(api.refresh('tok'))
    expect([e.status, e.code, e.messageKey()]).toEqual([502, 'http_502', 'errors.generic'])
  })

  it('reports an unreachable server as a network error', async () => {
    const api = createApi(async () => {
      throw new TypeError('Failed to fetch')
    })
    const e = await failure(api.join({ code: '482913', name: 'Ana' }))
    expect([e.status, e.code, e.messageKey()]).toEqual([0, 'network', 'errors.network'])
  })

  it('has a sentence in the catalog for every code it maps', () => {
    const codes = ['network', 'unauthorized', 'already_speaking', 'session_not_live', 'participant_left']
    for (const code of codes) expect(lookup(new ApiError(400, code).messageKey())).toEqual(expect.any(String))
  })
})
