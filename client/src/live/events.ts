// Follows a session's live updates, `GET /v1/sessions/{id}/events`, with
// fetch (EventSource cannot send the Authorization header, and tokens stay
// out of URLs). On a drop it reconnects with `Last-Event-ID`, so the server
// replays exactly what was missed, waiting longer after each failure. It
// stops for good after the session's end or the learner's own removal (the
// server closes the stream then), or when the server refuses the learner.
// The learner follows with the participant token (renewed on a 401); the
// teacher's console gives no token: the browser sends its cookie, and a
// 401 there is final (the sign-in expired).

import { createParser, type EventSourceMessage } from 'eventsource-parser'

import type { FloorView, SessionEvent, TurnEndingEvent } from '../api/client'
import type { FloorAction } from './floor'
import type { SessionAction } from './session'

export interface StreamEvent {
  id: string | undefined
  event: string
  data: unknown
}

export type StreamState = 'connecting' | 'open' | 'retrying'

/** Why following stopped. */
export type StreamEnd = 'ended' | 'kicked' | 'refused' | 'aborted'

export interface FollowOptions {
  sessionId: string
  /** The participant following, whose own removal ends the stream; none for the console. */
  participantId?: string
  /** The current participant token (it is renewed while following); none
   * for the console, which sends no Authorization header (its cookie goes by itself). */
  token?: () => string
  onEvent: (event: StreamEvent) => void
  onState: (state: StreamState) => void
  /** After a 401: renew the token; true to try again with it. Without it, a 401 is 'refused'. */
  renew?: () => Promise<boolean>
  signal: AbortSignal
  fetch?: typeof fetch
  /** Wait before the attempt'th retry (0-based). */
  backoff?: (attempt: number) => number
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>
}

/** 1 s, 2 s, 4 s … up to 30 s, each ±20 %, so a restarted server is not met by every client at once. */
export function backoff(attempt: number): number {
  const base = Math.min(30_000, 1000 * 2 ** attempt)
  return Math.round(base * (0.8 + Math.random() * 0.4))
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms)
    function done() {
      clearTimeout(timer)
      signal.removeEventListener('abort', done)
      resolve()
    }
    signal.addEventListener('abort', done, { once: true })
  })
}

/** Whether this event is the last the server sends this learner. */
export function endOf(event: StreamEvent, participantId: string | undefined): 'ended' | 'kicked' | null {
  const data = event.data as Record<string, unknown> | null
  if (event.event === 'session' && data?.status === 'ended') return 'ended'
  if (
    participantId !== undefined &&
    event.event === 'presence' &&
    data?.presence === 'kicked' &&
    data.participant_id === participantId
  ) {
    return 'kicked'
  }
  return null
}

async function errorCode(response: Response): Promise<string | null> {
  try {
    const body = (await response.json()) as { error?: { code?: unknown } }
    return typeof body.error?.code === 'string' ? body.error.code : null
  } catch {
    return null
  }
}

export async function followEvents(options: FollowOptions): Promise<StreamEnd> {
  const fetchFn = options.fetch ?? ((input, init) => fetch(input, init))
  const wait = options.sleep ?? sleep
  const delay = options.backoff ?? backoff
  const { signal } = options
  const url = `/v1/sessions/${options.sessionId}/events`
  let lastEventId: string | undefined
  let attempt = 0
  let renewed = false

  const retry = async () => {
    options.onState('retrying')
    await wait(delay(attempt), signal)
    attempt += 1
  }

  while (!signal.aborted) {
    options.onState('connecting')
    const headers: Record<string, string> = { Accept: 'text/event-stream' }
    if (options.token) headers.Authorization = `Bearer ${options.token()}`
    if (lastEventId !== undefined) headers['Last-Event-ID'] = lastEventId
    let response: Response
    try {
      response = await fetchFn(url, { headers, signal, cache: 'no-store' })
    } catch {
      if (signal.aborted) break
      await retry()
      continue
    }
    if (response.status === 401) {
      if ((await errorCode(response)) === 'token_revoked') return 'kicked'
      // One renewal per refusal: a token refused right after renewal is not coming back.
      if (!renewed && options.renew && (await options.renew())) {
        renewed = true
        continue
      }
      return 'refused'
    }
    renewed = false
    // The session ended while we were away (its participant tokens are refused then).
    if (response.status === 410) return 'ended'
    if (response.status === 403 || response.status === 404) return 'refused'
    if (response.status === 422) {
      // The server does not know our last id: start afresh with the state now.
      lastEventId = undefined
      continue
    }
    if (!response.ok || !response.body) {
      await retry()
      continue
    }
    options.onState('open')
    let end: 'ended' | 'kicked' | null = null
    const parser = createParser({
      onEvent(message: EventSourceMessage) {
        if (end) return
        attempt = 0
        if (message.id !== undefined) lastEventId = message.id
        let data: unknown
        try {
          data = JSON.parse(message.data)
        } catch {
          return
        }
        const event = { id: message.id, event: message.event ?? 'message', data }
        options.onEvent(event)
        end = endOf(event, options.participantId)
      },
    })
    try {
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader()
      while (!end) {
        const { done, value } = await reader.read()
        if (done) break
        parser.feed(value)
      }
      if (end) {
        await reader.cancel()
        return end
      }
    } catch {
      if (signal.aborted) break
    }
    await retry()
  }
  return 'aborted'
}

/** What an event changes: the floor, the session, or neither. */
export function actionsFor(
  event: StreamEvent,
  participantId: string,
): { floor?: FloorAction; session?: SessionAction } {
  switch (event.event) {
    case 'floor':
      return { floor: { type: 'view', view: event.data as FloorView, from: 'stream' } }
    case 'session':
      return { session: { type: 'session', status: (event.data as SessionEvent).status } }
    case 'presence':
      return endOf(event, participantId) === 'kicked' ? { session: { type: 'kicked' } } : {}
    case 'turn_ending': {
      const turn = event.data as TurnEndingEvent
      return {
        floor: { type: 'turn_ending', participantId: turn.participant_id, secondsLeft: turn.seconds_left },
      }
    }
    default:
      return {}
  }
}
