// The typed client of Estrade's HTTP API (shared/brief/API.md). The client
// is served from the API's origin, so every path is relative. A failure is
// an ApiError whose `message()` is the catalog key of the sentence to show
// the learner, and `field()` the form field to fix, if any. `createCall`
// is the one request helper, shared with the console's calls
// (console/api.ts), which send no Authorization header: the browser sends
// the console's cookie itself (fetch's default, same-origin credentials).

import type { MessageKey } from '../i18n'
import type { Poll } from '../live/polls'

export interface Joined {
  session_id: string
  /** The session's title, shown as the class's heading (absent from a
   * server older than the client). */
  session_title?: string
  participant_id: string
  identity: string
  livekit_url: string
  livekit_token: string
  participant_token: string
  expires_at: string
}

export interface JoinRequest {
  code: string
  name: string
  kind?: 'learner' | 'classroom'
  headcount?: number
  /** The key in the join link's fragment (`#k=…`): not limited as a guess. */
  link?: string
}

export type FloorMode = 'moderated' | 'open' | 'closed'

export interface Speaker {
  participant_id: string
  name: string
  since: string
  expires_at: string | null
}

/** A place in line: a raised hand, or a typed question. */
export interface Hand {
  participant_id: string
  name: string
  /** When the hand went up, or the question was asked. */
  raised_at: string
  position: number
  /** What waits (absent from a server older than typed questions: a hand). */
  kind?: 'hand' | 'question'
  /** The question, for a question (its text: `GET …/questions`). */
  question_id?: string | null
}

export type QuestionStatus = 'waiting' | 'answered' | 'dismissed' | 'withdrawn' | 'closed'

/** A typed question (`POST`/`GET …/questions`, the `question` event): plain text, never HTML. */
export interface Question {
  id: string
  session_id: string
  participant_id: string
  /** The author's display name. */
  name: string
  text: string
  asked_at: string
  status: QuestionStatus
  /** Answered by giving its author the floor. */
  answered_with_floor: boolean
  /** When it stopped waiting; null while waiting. */
  ended_at: string | null
}

/** `GET …/floor`, the hand answers and every `floor` event. */
export interface FloorView {
  mode: FloorMode
  max_speakers: number
  speaking_time_limit_s: number | null
  speakers: Speaker[]
  queue: Hand[]
  version: number
  /** The caller's place in line, null when not waiting. */
  position?: number | null
}

export type SessionStatus = 'scheduled' | 'live' | 'ended'

/** The `session` event. */
export interface SessionEvent {
  id: string
  status: SessionStatus
  started_at: string | null
  ended_at: string | null
  end_reason: string | null
}

/** The `presence` event. */
export interface PresenceEvent {
  participant_id: string
  kind: string
  name: string
  presence: 'invited' | 'present' | 'left' | 'kicked'
}

/** The `turn_ending` event, 10 s before a limited turn ends. */
export interface TurnEndingEvent {
  participant_id: string
  expires_at: string
  seconds_left: number
}

export interface IceServer {
  urls: string[]
  username: string
  credential: string
}

export interface Connectivity {
  livekit_url: string
  ice_servers: IceServer[]
  ice_transport_policy: 'relay'
  expires_at: string | null
}

/** What the learner is told for each error code; others get `errors.generic`. */
const MESSAGES: Record<string, MessageKey> = {
  network: 'errors.network',
  invalid_code: 'errors.invalid_code',
  unknown_code: 'errors.unknown_code',
  invalid_name: 'errors.invalid_name',
  invalid_headcount: 'errors.invalid_headcount',
  session_not_started: 'errors.session_not_started',
  session_locked: 'errors.session_locked',
  session_full: 'errors.session_full',
  session_ended: 'errors.session_ended',
  rate_limited: 'errors.rate_limited',
  unauthorized: 'errors.unauthorized',
  token_revoked: 'errors.token_revoked',
  hand_already_raised: 'errors.hand_already_raised',
  already_speaking: 'errors.already_speaking',
  floor_closed: 'errors.floor_closed',
  session_not_live: 'errors.session_not_live',
  participant_left: 'errors.participant_left',
  unavailable: 'errors.unavailable',
  poll_closed: 'poll.errors.poll_closed',
  question_waiting: 'questions.errors.question_waiting',
  too_many_questions: 'questions.errors.too_many_questions',
  invalid_question: 'questions.errors.invalid_question',
  invalid_choice: 'poll.errors.invalid_choice',
}

export type JoinField = 'code' | 'name' | 'headcount'

const FIELDS: Record<string, JoinField> = {
  invalid_code: 'code',
  unknown_code: 'code',
  session_ended: 'code',
  session_not_started: 'code',
  session_locked: 'code',
  session_full: 'code',
  rate_limited: 'code',
  invalid_name: 'name',
  invalid_headcount: 'headcount',
}

export class ApiError extends Error {
  constructor(
    /** HTTP status; 0 when the server could not be reached. */
    readonly status: number,
    /** The API's `error.code` (`network` when unreached). */
    readonly code: string,
    /** Seconds to wait, from `Retry-After`. */
    readonly retryAfterS: number | null = null,
    /** The API's `error.details`, when it sent an object. */
    readonly details: Readonly<Record<string, unknown>> | null = null,
    /** The API's `error.message` (English, for people reading the code: never shown, never logged). */
    readonly serverMessage: string = '',
  ) {
    super(`${status} ${code}`)
    this.name = 'ApiError'
  }

  messageKey(): MessageKey {
    return MESSAGES[this.code] ?? 'errors.generic'
  }

  /** The sentence's values (the wait, for a 429). */
  values(): Record<string, number> {
    return this.code === 'rate_limited' || this.code === 'too_many_questions' ? { count: this.retryAfterS ?? 60 } : {}
  }

  /** The join form's field the learner should fix, if any. */
  field(): JoinField | null {
    return FIELDS[this.code] ?? null
  }
}

type Fetch = typeof fetch

async function failure(response: Response): Promise<ApiError> {
  let code = `http_${response.status}`
  let details: Record<string, unknown> | null = null
  let message = ''
  try {
    const body = (await response.json()) as { error?: { code?: unknown; message?: unknown; details?: unknown } }
    if (typeof body.error?.code === 'string') code = body.error.code
    if (typeof body.error?.message === 'string') message = body.error.message
    const d = body.error?.details
    if (typeof d === 'object' && d !== null && !Array.isArray(d)) details = d as Record<string, unknown>
  } catch {
    // Not the API's error shape (a proxy's page): keep the status.
  }
  const retry = Number.parseInt(response.headers.get('retry-after') ?? '', 10)
  return new ApiError(response.status, code, Number.isFinite(retry) ? retry : null, details, message)
}

/** One request: JSON in and out, the token (if any) as a bearer credential. */
export type Call = <T>(method: string, path: string, token?: string, body?: unknown) => Promise<T>

/** The request helper every call goes through; an answer without a body (204) is `undefined`. */
export function createCall(fetchFn: Fetch): Call {
  return async function call<T>(method: string, path: string, token?: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = { Accept: 'application/json' }
    if (token) headers.Authorization = `Bearer ${token}`
    if (body !== undefined) headers['Content-Type'] = 'application/json'
    let response: Response
    try {
      response = await fetchFn(path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        cache: 'no-store',
      })
    } catch {
      throw new ApiError(0, 'network')
    }
    if (!response.ok) throw await failure(response)
    if (response.status === 204) return undefined as T
    return (await response.json()) as T
  }
}

export function createApi(fetchFn: Fetch) {
  const call = createCall(fetchFn)
  return {
    join: (request: JoinRequest) => call<Joined>('POST', '/v1/join', undefined, request),
    refresh: (token: string) => call<Joined>('POST', '/v1/participant/refresh', token),
    floor: (sessionId: string, token: string) =>
      call<FloorView>('GET', `/v1/sessions/${sessionId}/floor`, token),
    raiseHand: (sessionId: string, token: string) =>
      call<FloorView>('POST', `/v1/sessions/${sessionId}/hand`, token),
    /** Lowers the hand, or gives the floor back when speaking. */
    lowerHand: (sessionId: string, token: string) =>
      call<FloorView>('DELETE', `/v1/sessions/${sessionId}/hand`, token),
    /** A typed question: it takes a place in line (or the place of the raised hand). */
    ask: (sessionId: string, token: string, text: string) =>
      call<Question>('POST', `/v1/sessions/${sessionId}/questions`, token, { text }),
    /** The learner's own questions, oldest first. */
    questions: (sessionId: string, token: string) =>
      call<{ questions: Question[] }>('GET', `/v1/sessions/${sessionId}/questions`, token),
    /** The class's polls as this learner sees them (counts once shown, its own choice). */
    polls: (sessionId: string, token: string) =>
      call<{ polls: Poll[] }>('GET', `/v1/sessions/${sessionId}/polls`, token),
    /** Chooses (or changes to) `choice` in an open poll. */
    answerPoll: (sessionId: string, pollId: string, choice: number, token: string) =>
      call<Poll>('POST', `/v1/sessions/${sessionId}/polls/${encodeURIComponent(pollId)}/answer`, token, { choice }),
    /** The participant token is optional: staff or anonymous checks may be allowed. */
    connectivity: (token: string | null) =>
      call<Connectivity>('GET', '/v1/connectivity', token ?? undefined),
  }
}

export type Api = ReturnType<typeof createApi>

export const api: Api = createApi((input, init) => fetch(input, init))
