// What the teacher is told when a console call fails, and the one rule for
// an expired sign-in: any console call answered 401 means the cookie is no
// longer accepted, so the console goes back to the sign-in page and says
// so. Pure.

import { ApiError } from '../api/client'
import type { MessageKey } from '../i18n'

export interface Said {
  key: MessageKey
  values?: Record<string, number>
}

const MESSAGES: Record<string, MessageKey> = {
  network: 'errors.network',
  unavailable: 'errors.unavailable',
  rate_limited: 'errors.rate_limited',
  invalid_api_key: 'console.errors.invalid_api_key',
  cross_origin: 'console.errors.cross_origin',
  unauthorized: 'console.errors.expired',
  forbidden: 'console.errors.forbidden',
  not_found: 'console.errors.not_found',
  session_ended: 'console.errors.session_ended',
  session_not_live: 'console.errors.session_not_live',
  floor_full: 'console.errors.floor_full',
  queue_empty: 'console.errors.queue_empty',
  already_speaking: 'console.errors.already_speaking',
  floor_closed: 'console.errors.floor_closed',
  participant_left: 'console.errors.participant_left',
  not_a_learner: 'console.errors.not_a_learner',
  cannot_kick_teacher: 'console.errors.cannot_kick_teacher',
  invalid_title: 'console.form.invalid_title',
  invalid_max_learners: 'console.form.invalid_max_learners',
  invalid_floor: 'console.form.invalid_floor',
  poll_open: 'console.errors.poll_open',
  invalid_poll: 'console.polls.invalid',
  poll_closed: 'console.errors.poll_closed',
  question_not_waiting: 'console.errors.question_not_waiting',
  too_many_live_sessions: 'console.errors.too_many_live_sessions',
  too_many_sessions: 'console.errors.too_many_sessions',
  too_many_seats: 'console.errors.too_many_seats',
}

/** Anything thrown by a call, as an ApiError (an unexpected throw is a network failure). */
export function asApiError(thrown: unknown): ApiError {
  return thrown instanceof ApiError ? thrown : new ApiError(0, 'network')
}

/** The sentence for a failed console call. */
export function consoleMessage(thrown: unknown): Said {
  const error = asApiError(thrown)
  const key = MESSAGES[error.code] ?? 'console.errors.generic'
  return error.code === 'rate_limited' ? { key, values: error.values() } : { key }
}

/** A 401 from a call made while signed in: the sign-in expired. */
export function isExpiry(thrown: unknown): boolean {
  return thrown instanceof ApiError && thrown.status === 401
}

type Calls = Record<string, (...args: never[]) => Promise<unknown>>

/** The same calls, each telling `onExpired` when answered 401 (and still failing), except `exempt`
 * ones: signing in (a 401 is a wrong key), asking who is signed in (a 401 is nobody), signing out. */
export function guardExpiry<T extends Calls>(api: T, onExpired: () => void, exempt: readonly (keyof T)[]): T {
  const guarded: Record<string, unknown> = {}
  for (const [name, call] of Object.entries(api)) {
    guarded[name] = exempt.includes(name)
      ? call
      : (...args: never[]) =>
          call(...args).catch((thrown: unknown) => {
            if (isExpiry(thrown)) onExpired()
            throw thrown
          })
  }
  return guarded as T
}
