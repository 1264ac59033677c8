// Where the learner's class is: connecting, waiting for the teacher, live,
// reconnecting, or over (ended, removed, left, connection lost), with the
// teacher's camera and microphone and the connection's quality; and what
// to say at each change. Fed by LiveKit's room events and the stream's
// `session` and `presence` events. Pure.

import type { Cue } from '../a11y/announcer'
import type { SessionStatus } from '../api/client'

export type Connection = 'connecting' | 'connected' | 'reconnecting' | 'disconnected'

export type Quality = 'unknown' | 'excellent' | 'good' | 'poor' | 'lost'

/** How the class ended for this learner. `lost`: the connection dropped for good. */
export type End = 'ended' | 'kicked' | 'left' | 'lost'

export interface Teacher {
  present: boolean
  camera: boolean
  microphone: boolean
}

export interface SessionState {
  connection: Connection
  quality: Quality
  teacher: Teacher
  end: End | null
}

export type DisconnectCause = 'client' | 'removed' | 'room_deleted' | 'other'

export type SessionAction =
  | { type: 'connection'; connection: Connection }
  | { type: 'disconnected'; cause: DisconnectCause }
  | { type: 'session'; status: SessionStatus }
  | { type: 'kicked' }
  | { type: 'left' }
  | { type: 'teacher'; teacher: Teacher }
  | { type: 'quality'; quality: Quality }

export const initialSession: SessionState = {
  connection: 'connecting',
  quality: 'unknown',
  teacher: { present: false, camera: false, microphone: false },
  end: null,
}

const END_OF: Record<Exclude<DisconnectCause, 'client'>, End> = {
  removed: 'kicked',
  room_deleted: 'ended',
  other: 'lost',
}

function ending(s: SessionState, end: End): SessionState {
  // The first ending stands, except a lost connection, which later news
  // (the session ended, the learner was removed) explains.
  if (s.end !== null && s.end !== 'lost') return s
  return { ...s, end }
}

export function sessionReducer(s: SessionState, action: SessionAction): SessionState {
  switch (action.type) {
    case 'connection':
      return s.end ? s : { ...s, connection: action.connection }
    case 'disconnected':
      // Our own disconnect ends nothing: it follows Leave (already the
      // end), or the page going away (livekit-client disconnects on
      // pagehide), and a reload must keep the seat.
      if (action.cause === 'client') return { ...s, connection: 'disconnected' }
      return ending({ ...s, connection: 'disconnected' }, END_OF[action.cause])
    case 'session':
      return action.status === 'ended' ? ending(s, 'ended') : s
    case 'kicked':
      return ending(s, 'kicked')
    case 'left':
      return ending(s, 'left')
    case 'teacher':
      return { ...s, teacher: action.teacher }
    case 'quality':
      return { ...s, quality: action.quality }
  }
}

export type Phase = 'connecting' | 'waiting' | 'live' | 'reconnecting' | End

export function phaseOf(s: SessionState): Phase {
  if (s.end) return s.end
  switch (s.connection) {
    case 'connecting':
    case 'disconnected':
      return 'connecting'
    case 'reconnecting':
      return 'reconnecting'
    case 'connected':
      return s.teacher.present ? 'live' : 'waiting'
  }
}

const PHASE_CUES: Record<Exclude<Phase, 'connecting'>, Cue> = {
  waiting: { key: 'session.waiting', politeness: 'polite', topic: 'session' },
  live: { key: 'session.live', politeness: 'polite', topic: 'session' },
  reconnecting: { key: 'session.reconnecting', politeness: 'assertive', topic: 'session' },
  ended: { key: 'session.ended', politeness: 'assertive', topic: 'session' },
  kicked: { key: 'session.kicked', politeness: 'assertive', topic: 'session' },
  left: { key: 'session.left', politeness: 'polite', topic: 'session' },
  lost: { key: 'session.lost', politeness: 'assertive', topic: 'session' },
}

const weak = (q: Quality) => q === 'poor' || q === 'lost'
const fine = (q: Quality) => q === 'good' || q === 'excellent'

export function sessionCues(prev: SessionState, next: SessionState): Cue[] {
  const cues: Cue[] = []
  const a = phaseOf(prev)
  const b = phaseOf(next)
  if (a !== b && b !== 'connecting') {
    cues.push(
      a === 'reconnecting' && (b === 'live' || b === 'waiting')
        ? { key: 'session.reconnected', politeness: 'polite', topic: 'session' }
        : PHASE_CUES[b],
    )
  }
  if (a === 'live' && b === 'live') {
    if (prev.teacher.camera !== next.teacher.camera) {
      cues.push({
        key: next.teacher.camera ? 'teacher.camera_on' : 'teacher.camera_off',
        politeness: 'polite',
        topic: 'teacher_camera',
      })
    }
    if (prev.teacher.microphone !== next.teacher.microphone) {
      cues.push({
        key: next.teacher.microphone ? 'teacher.mic_on' : 'teacher.mic_off',
        politeness: 'polite',
        topic: 'teacher_mic',
      })
    }
  }
  if (!next.end && next.connection === 'connected') {
    if (!weak(prev.quality) && weak(next.quality)) {
      cues.push({ key: 'connection.poor', politeness: 'polite', topic: 'quality' })
    } else if (weak(prev.quality) && fine(next.quality)) {
      cues.push({ key: 'connection.recovered', politeness: 'polite', topic: 'quality' })
    }
  }
  return cues
}

export function sessionStep(s: SessionState, action: SessionAction): { state: SessionState; cues: Cue[] } {
  const next = sessionReducer(s, action)
  return { state: next, cues: sessionCues(s, next) }
}
