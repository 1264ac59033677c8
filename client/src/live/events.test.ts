import { describe, expect, it } from 'vitest'

import { actionsFor, backoff, followEvents, type StreamEvent, type StreamState } from './events'

const ME = 'p-me'

/** A response whose body is these chunks, then the end of the stream. */
function stream(chunks: string[]): Response {
  const encoder = new TextEncoder()
  return new Response(
    new ReadableStream({
      start(controller) {
        for (const c of chunks) controller.enqueue(encoder.encode(c))
        controller.close()
      },
    }),
    { status: 200, headers: { 'Content-Type': 'text/event-stream' } },
  )
}

const sse = (id: number, event: string, data: unknown) => `id: ${id}\nevent: ${event}\ndata: ${JSON.stringify(data)}\n\n`

const json = (status: number, code: string) =>
  new Response(JSON.stringify({ error: { code, message: '.' } }), {
    status,
    headers: { 'Content-Type': 'application/json' },
  })

interface Script {
  responses: (Response | Error)[]
}

function harness(script: Script, renew: () => Promise<boolean> = async () => false) {
  const requests: Record<string, string>[] = []
  const events: StreamEvent[] = []
  const states: StreamState[] = []
  const waits: number[] = []
  const controller = new AbortController()
  let token = 'tok-1'
  const done = followEvents({
    sessionId: 's1',
    participantId: ME,
    token: () => token,
    renew: async () => {
      const ok = await renew()
      if (ok) token = 'tok-2'
      return ok
    },
    onEvent: (e) => events.push(e),
    onState: (s) => states.push(s),
    signal: controller.signal,
    backoff: (attempt) => 1000 * (attempt + 1),
    sleep: async (ms) => {
      waits.push(ms)
    },
    fetch: async (input, init) => {
      expect(String(input)).toBe('/v1/sessions/s1/events')
      requests.push({ ...(init?.headers as Record<string, string>) })
      const next = script.responses.shift()
      if (next === undefined) {
        controller.abort()
        throw new DOMException('aborted', 'AbortError')
      }
      if (next instanceof Error) throw next
      return next
    },
  })
  return { done, requests, events, states, waits }
}

describe('following the live updates', () => {
  it('reads events with the bearer token, split across chunks, and stops after the session ends', async () => {
    const body = sse(4, 'session', { status: 'live' }) + sse(4, 'floor', { version: 1 }) + ': keep-alive\n\n'
    const { done, requests, events, states } = harness({
      responses: [stream([body.slice(0, 10), body.slice(10, 50), body.slice(50), sse(5, 'session', { status: 'ended' })])],
    })
    expect(await done).toBe('ended')
    expect(requests).toEqual([{ Accept: 'text/event-stream', Authorization: 'Bearer tok-1' }])
    expect(events.map((e) => [e.id, e.event, e.data])).toEqual([
      ['4', 'session', { status: 'live' }],
      ['4', 'floor', { version: 1 }],
      ['5', 'session', { status: 'ended' }],
    ])
    expect(states).toEqual(['connecting', 'open'])
  })

  it('resumes with Last-Event-ID, waiting longer after each failure and afresh after a delivery', async () => {
    const { done, requests, waits } = harness({
      responses: [
        new TypeError('network down'),
        new Response('busy', { status: 503 }),
        stream([sse(7, 'floor', { version: 3 })]),
        stream([sse(8, 'presence', { participant_id: ME, presence: 'kicked' })]),
      ],
    })
    expect(await done).toBe('kicked')
    expect(requests.map((r) => r['Last-Event-ID'])).toEqual([undefined, undefined, undefined, '7'])
    expect(waits).toEqual([1000, 2000, 1000])
  })

  it('stops at its own kick but not at another participant’s', async () => {
    const { done, events } = harness({
      responses: [
        stream([
          sse(1, 'presence', { participant_id: 'someone', presence: 'kicked' }),
          sse(2, 'presence', { participant_id: ME, presence: 'kicked' }),
          sse(3, 'floor', { version: 9 }),
        ]),
      ],
    })
    expect(await done).toBe('kicked')
    expect(events.map((e) => e.id)).toEqual(['1', '2'])
  })

  it('renews the token once after a 401, and gives up if refused again', async () => {
    const renewed = harness({ responses: [json(401, 'unauthorized'), stream([sse(1, 'session', { status: 'ended' })])] }, async () => true)
    expect(await renewed.done).toBe('ended')
    expect(renewed.requests.map((r) => r.Authorization)).toEqual(['Bearer tok-1', 'Bearer tok-2'])

    const refused = harness({ responses: [json(401, 'unauthorized'), json(401, 'unauthorized')] }, async () => true)
    expect(await refused.done).toBe('refused')
    expect(refused.requests).toHaveLength(2)
  })

  it('takes a revoked token as a kick, with no retry', async () => {
    const { done, requests } = harness({ responses: [json(401, 'token_revoked')] }, async () => true)
    expect(await done).toBe('kicked')
    expect(requests).toHaveLength(1)
  })

  it('takes a 410 as the session’s end, with no retry', async () => {
    const { done, requests } = harness({ responses: [json(410, 'session_ended'), stream([])] })
    expect(await done).toBe('ended')
    expect(requests).toHaveLength(1)
  })

  it('stops on 404 without a retry loop', async () => {
    const { done, requests } = harness({ responses: [json(404, 'not_found'), stream([])] })
    expect(await done).toBe('refused')
    expect(requests).toHaveLength(1)
  })

  it('starts afresh without Last-Event-ID when the server refuses the id', async () => {
    const { done, requests } = harness({
      responses: [
        stream([sse(12, 'floor', { version: 1 })]),
        json(422, 'invalid_last_event_id'),
        stream([sse(1, 'session', { status: 'ended' })]),
      ],
    })
    expect(await done).toBe('ended')
    expect(requests.map((r) => r['Last-Event-ID'])).toEqual([undefined, '12', undefined])
  })

  it('skips an event whose data is not JSON', async () => {
    const { done, events } = harness({
      responses: [stream(['id: 1\nevent: floor\ndata: {oops\n\n', sse(2, 'session', { status: 'ended' })])],
    })
    expect(await done).toBe('ended')
    expect(events.map((e) => e.id)).toEqual(['2'])
  })

  it('ends as aborted when the classroom goes away', async () => {
    const { done } = harness({ responses: [] })
    expect(await done).toBe('aborted')
  })
})

describe('following with the console’s cookie', () => {
  function cookieHarness(responses: Response[]) {
    const requests: { headers: Record<string, string>; credentials: RequestCredentials | undefined }[] = []
    const events: StreamEvent[] = []
    const controller = new AbortController()
    const done = followEvents({
      sessionId: 's1',
      onEvent: (e) => events.push(e),
      onState: () => {},
      signal: controller.signal,
      backoff: () => 0,
      sleep: async () => {},
      fetch: async (_input, init) => {
        requests.push({ headers: { ...(init?.headers as Record<string, string>) }, credentials: init?.credentials })
        const next = responses.shift()
        if (next === undefined) {
          controller.abort()
          throw new DOMException('aborted', 'AbortError')
        }
        return next
      },
    })
    return { done, requests, events }
  }

  it('sends no Authorization header and leaves the credentials to the browser’s default', async () => {
    const { done, requests } = cookieHarness([stream([sse(1, 'session', { status: 'ended' })])])
    expect(await done).toBe('ended')
    expect(requests).toEqual([{ headers: { Accept: 'text/event-stream' }, credentials: undefined }])
  })

  it('takes a 401 as refused at once, with nothing to renew', async () => {
    const { done, requests } = cookieHarness([json(401, 'unauthorized'), stream([])])
    expect(await done).toBe('refused')
    expect(requests).toHaveLength(1)
  })

  it('is not stopped by anyone’s removal, and still resumes with Last-Event-ID', async () => {
    const { done, requests, events } = cookieHarness([
      stream([sse(3, 'presence', { participant_id: 'p1', presence: 'kicked' })]),
      stream([sse(4, 'session', { status: 'ended' })]),
    ])
    expect(await done).toBe('ended')
    expect(events.map((e) => e.id)).toEqual(['3', '4'])
    expect(requests.map((r) => r.headers['Last-Event-ID'])).toEqual([undefined, '3'])
  })
})

describe('the backoff', () => {
  it('doubles from about a second up to about thirty', () => {
    for (const [attempt, base] of [
      [0, 1000],
      [1, 2000],
      [3, 8000],
      [10, 30000],
    ] as const) {
      const d = backoff(attempt)
      expect(d).toBeGreaterThanOrEqual(base * 0.8)
      expect(d).toBeLessThanOrEqual(base * 1.2)
    }
  })
})

describe('what an event changes', () => {
  it('turns floor, session, own kick and turn_ending events into actions', () => {
    const floor = { version: 2 }
    expect(actionsFor({ id: '1', event: 'floor', data: floor }, ME)).toEqual({
      floor: { type: 'view', view: floor, from: 'stream' },
    })
    expect(actionsFor({ id: '1', event: 'session', data: { status: 'ended' } }, ME)).toEqual({
      session: { type: 'session', status: 'ended' },
    })
    expect(actionsFor({ id: '1', event: 'presence', data: { participant_id: ME, presence: 'kicked' } }, ME)).toEqual({
      session: { type: 'kicked' },
    })
    expect(actionsFor({ id: '1', event: 'presence', data: { participant_id: 'x', presence: 'kicked' } }, ME)).toEqual({})
    expect(
      actionsFor({ id: '1', event: 'turn_ending', data: { participant_id: ME, expires_at: 'x', seconds_left: 10 } }, ME),
    ).toEqual({ floor: { type: 'turn_ending', participantId: ME, secondsLeft: 10 } })
    expect(actionsFor({ id: '1', event: 'unknown', data: {} }, ME)).toEqual({})
  })
})
