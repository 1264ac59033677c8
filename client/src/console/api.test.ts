import { describe, expect, it } from 'vitest'

import { ApiError } from '../api/client'
import { createConsoleApi } from './api'

interface Seen {
  url: string
  method: string | undefined
  body: unknown
  headers: Record<string, string>
  credentials: RequestCredentials | undefined
}

function respond(status: number, body: unknown = {}, headers: Record<string, string> = {}) {
  const calls: Seen[] = []
  const api = createConsoleApi(async (input, init) => {
    calls.push({
      url: String(input),
      method: init?.method,
      body: init?.body === undefined ? undefined : JSON.parse(String(init.body)),
      headers: { ...(init?.headers as Record<string, string>) },
      credentials: init?.credentials,
    })
    return new Response(status === 204 ? null : JSON.stringify(body), {
      status,
      headers: { 'Content-Type': 'application/json', ...headers },
    })
  })
  return { api, calls }
}

async function failure(promise: Promise<unknown>): Promise<ApiError> {
  try {
    await promise
  } catch (e) {
    if (e instanceof ApiError) return e
    throw e
  }
  throw new Error('expected a failure')
}

const floor = { mode: 'moderated', max_speakers: 1, speaking_time_limit_s: null } as const

describe('the console’s calls', () => {
  it.each([
    ['signIn', (a: Api) => a.signIn('estrade_secret'), 'POST', '/v1/console/session', { api_key: 'estrade_secret' }],
    ['whoami', (a: Api) => a.whoami(), 'GET', '/v1/console/session', undefined],
    ['sessions', (a: Api) => a.sessions(), 'GET', '/v1/sessions', undefined],
    [
      'createSession',
      (a: Api) => a.createSession({ title: 'Sauces', floor, max_learners: 30 }),
      'POST',
      '/v1/sessions',
      { title: 'Sauces', floor, max_learners: 30 },
    ],
    ['session', (a: Api) => a.session('s1'), 'GET', '/v1/sessions/s1', undefined],
    ['lock', (a: Api) => a.updateSession('s1', { locked: true }), 'PATCH', '/v1/sessions/s1', { locked: true }],
    ['rotate', (a: Api) => a.updateSession('s1', { rotate_join_code: true }), 'PATCH', '/v1/sessions/s1', { rotate_join_code: true }],
    ['start', (a: Api) => a.start('s1'), 'POST', '/v1/sessions/s1/start', undefined],
    ['end', (a: Api) => a.end('s1'), 'POST', '/v1/sessions/s1/end', undefined],
    ['publishToken', (a: Api) => a.publishToken('s1'), 'POST', '/v1/sessions/s1/publish-token', undefined],
    ['floor', (a: Api) => a.floor('s1'), 'GET', '/v1/sessions/s1/floor', undefined],
    ['grant one', (a: Api) => a.grant('s1', 'p1'), 'POST', '/v1/sessions/s1/floor/grant', { participant_id: 'p1' }],
    ['grant next', (a: Api) => a.grant('s1'), 'POST', '/v1/sessions/s1/floor/grant', {}],
    ['revoke one', (a: Api) => a.revoke('s1', { participant_id: 'p1' }), 'POST', '/v1/sessions/s1/floor/revoke', { participant_id: 'p1' }],
    ['revoke all', (a: Api) => a.revoke('s1', { all: true }), 'POST', '/v1/sessions/s1/floor/revoke', { all: true }],
    [
      'configureFloor',
      (a: Api) => a.configureFloor('s1', { mode: 'open', max_speakers: 2, speaking_time_limit_s: 60 }),
      'PUT',
      '/v1/sessions/s1/floor',
      { mode: 'open', max_speakers: 2, speaking_time_limit_s: 60 },
    ],
    ['participants', (a: Api) => a.participants('s1'), 'GET', '/v1/sessions/s1/participants', undefined],
    ['kick', (a: Api) => a.kick('s1', 'p1'), 'POST', '/v1/sessions/s1/participants/p1/kick', undefined],
  ])('%s: %s %s', async (_name, run, method, path, body) => {
    const { api, calls } = respond(200)
    await run(api)
    expect(calls).toHaveLength(1)
    const call = calls[0]!
    expect([call.method, call.url, call.body]).toEqual([method, path, body])
    // The cookie goes by itself: no bearer credential, and fetch's default (same-origin) credentials.
    expect(call.headers.Authorization).toBeUndefined()
    expect(call.credentials).toBeUndefined()
    expect(call.headers['Content-Type']).toBe(body === undefined ? undefined : 'application/json')
  })

  it('signs out with DELETE and an empty 204', async () => {
    const { api, calls } = respond(204)
    expect(await api.signOut()).toBeUndefined()
    expect([calls[0]?.method, calls[0]?.url]).toEqual(['DELETE', '/v1/console/session'])
  })

  it('escapes ids in paths', async () => {
    const { api, calls } = respond(200)
    await api.kick('s/1', 'p?2')
    expect(calls[0]?.url).toBe('/v1/sessions/s%2F1/participants/p%3F2/kick')
  })

  it('turns a refused key, a rate limit and a field problem into ApiErrors', async () => {
    const refused = await failure(
      respond(401, { error: { code: 'invalid_api_key', message: 'No.' } }).api.signIn('estrade_wrong'),
    )
    expect([refused.status, refused.code]).toEqual([401, 'invalid_api_key'])

    const limited = await failure(
      respond(429, { error: { code: 'rate_limited', message: 'Wait.' } }, { 'Retry-After': '12' }).api.signIn('k'),
    )
    expect([limited.status, limited.code, limited.retryAfterS]).toEqual([429, 'rate_limited', 12])

    const invalid = await failure(
      respond(422, {
        error: { code: 'invalid_floor', message: 'speaking_time_limit_s must be between 5 and 3600 seconds.', details: { field: 'speaking_time_limit_s' } },
      }).api.createSession({ title: 'x' }),
    )
    expect([invalid.status, invalid.code, invalid.details, invalid.serverMessage]).toEqual([
      422,
      'invalid_floor',
      { field: 'speaking_time_limit_s' },
      'speaking_time_limit_s must be between 5 and 3600 seconds.',
    ])
  })

  it('reports an unreachable server as a network error', async () => {
    const api = createConsoleApi(async () => {
      throw new TypeError('Failed to fetch')
    })
    const e = await failure(api.sessions())
    expect([e.status, e.code]).toEqual([0, 'network'])
  })
})

type Api = ReturnType<typeof createConsoleApi>
