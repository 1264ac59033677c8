// A class's status as the console follows it: the session's answers (start,
// end, lock, new code) and the stream's `session` events, which carry only
// the status and its times. Changes are said politely; the first view
// says nothing. Pure.

import type { Cue } from '../a11y/announcer'
import type { SessionEvent, SessionStatus } from '../api/client'
import type { Session } from './api'

/** The session with what a `session` event says of it. */
export function withEvent(session: Session, event: SessionEvent): Session {
  if (event.id !== undefined && event.id !== session.id) return session
  return { ...session, status: event.status, started_at: event.started_at, ended_at: event.ended_at }
}

const ORDER: Record<SessionStatus, number> = { scheduled: 0, live: 1, ended: 2 }

/** A status never goes back (a late answer must not undo an end the stream told). */
export function laterStatus(current: SessionStatus, next: SessionStatus): SessionStatus {
  return ORDER[next] >= ORDER[current] ? next : current
}

export function statusCues(previous: SessionStatus | null, next: SessionStatus): Cue[] {
  if (previous === null || previous === next) return []
  if (next === 'live') return [{ key: 'console.session.live', politeness: 'polite', topic: 'session' }]
  if (next === 'ended') return [{ key: 'console.session.ended', politeness: 'polite', topic: 'session' }]
  return []
}
