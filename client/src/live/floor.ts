// The learner's floor: what the UI shows and says, derived from the
// server's floor (the `floor` events of the stream and the answers to the
// hand requests, keeping the highest `version`), from the participant's
// LiveKit attributes (`estrade.hand`, `estrade.floor`,
// `estrade.queue_position`) while the stream is down, and from the
// microphone's publication. Pure: `useFloor` feeds it actions.
//
// Why one source at a time: the stream and LiveKit's attributes travel by
// different paths, so either can lag; following whichever spoke last would
// make a quick raise-then-grant flicker back to "raised" when the late
// attribute lands, and announce the grant twice. The stream is ordered and
// versioned, so it decides while it is connected; attributes that change
// while it is down are newer than anything it said, so they decide until it
// delivers again.
//
// A floor event does not say why a turn ended, so the client infers it:
// the learner asked to give the floor back (a pending request), the turn's
// deadline (from `turn_ending`) had come, or else the teacher closed it.

import type { Cue } from '../a11y/announcer'
import type { FloorMode, FloorView } from '../api/client'
import type { MessageKey } from '../i18n'

export type ServerStatus =
  | { kind: 'none' }
  /** `question`: the place is a typed question's, not a raised hand's. */
  | { kind: 'queued'; position: number | null; question: boolean }
  | { kind: 'speaking' }

export function statusInView(view: FloorView, me: string): ServerStatus {
  if (view.speakers.some((s) => s.participant_id === me)) return { kind: 'speaking' }
  const hand = view.queue.find((h) => h.participant_id === me)
  if (hand) return { kind: 'queued', position: hand.position, question: hand.kind === 'question' }
  return { kind: 'none' }
}

export const ATTRIBUTES = {
  hand: 'estrade.hand',
  floor: 'estrade.floor',
  position: 'estrade.queue_position',
} as const

/** The floor as the attributes say it; null when they say nothing yet. They
 * do not say whether a place is a question's: `derive` takes that from the
 * last view. */
export function statusFromAttributes(attributes: Readonly<Record<string, string>>): ServerStatus | null {
  const floor = attributes[ATTRIBUTES.floor]
  const hand = attributes[ATTRIBUTES.hand]
  if (floor === undefined && hand === undefined) return null
  if (floor === 'speaking') return { kind: 'speaking' }
  if (hand === 'raised') {
    const position = Number.parseInt(attributes[ATTRIBUTES.position] ?? '', 10)
    return { kind: 'queued', position: position >= 1 ? position : null, question: false }
  }
  return { kind: 'none' }
}

/** The learner's microphone: not published, published and live, published and muted. */
export type Mic = 'off' | 'live' | 'muted'

export type LearnerFloor =
  /** Nothing heard from the server yet. */
  | { kind: 'unknown' }
  /** The floor is closed: no hands. */
  | { kind: 'closed' }
  | { kind: 'idle' }
  | { kind: 'queued'; position: number | null; question: boolean }
  /** May speak; the microphone is not open yet. */
  | { kind: 'granted' }
  | { kind: 'speaking'; mic: 'live' | 'muted' }

export type Request = 'raise' | 'lower' | 'give_back'

export interface FloorState {
  me: string
  view: FloorView | null
  attributes: ServerStatus | null
  /** The stream delivered since it last (re)connected: its floor is current. */
  streamLive: boolean
  /** The attributes changed while the stream was down. */
  attributesNewer: boolean
  mic: Mic
  /** What the learner asked and the floor does not show yet. */
  pending: Request | null
  /** When (local clock, ms) the current turn ends, from `turn_ending`. */
  deadline: number | null
  learner: LearnerFloor
  /** What last ended the learner's hand or turn, shown until the next change. */
  notice: MessageKey | null
}

export type FloorAction =
  | { type: 'view'; view: FloorView; from: 'stream' | 'answer' }
  | { type: 'stream_down' }
  | { type: 'attributes'; attributes: Readonly<Record<string, string>> }
  | { type: 'asked'; request: Request }
  | { type: 'request_failed' }
  | { type: 'mic'; mic: Mic }
  | { type: 'turn_ending'; participantId: string; secondsLeft: number }

/** A turn that ends this close to its deadline ended by the clock. */
export const DEADLINE_GRACE_MS = 3000

export function initialFloor(me: string): FloorState {
  return {
    me,
    view: null,
    attributes: null,
    streamLive: false,
    attributesNewer: false,
    mic: 'off',
    pending: null,
    deadline: null,
    learner: { kind: 'unknown' },
    notice: null,
  }
}

function apply(s: FloorState, action: FloorAction, now: number): FloorState {
  switch (action.type) {
    case 'view': {
      const newer = s.view === null || action.view.version > s.view.version
      return {
        ...s,
        view: newer ? action.view : s.view,
        streamLive: s.streamLive || action.from === 'stream',
        attributesNewer: newer || action.from === 'stream' ? false : s.attributesNewer,
      }
    }
    case 'stream_down':
      return { ...s, streamLive: false }
    case 'attributes': {
      const status = statusFromAttributes(action.attributes)
      if (status === null) return s
      return { ...s, attributes: status, attributesNewer: s.attributesNewer || !s.streamLive }
    }
    case 'asked':
      return { ...s, pending: action.request }
    case 'request_failed':
      return { ...s, pending: null }
    case 'mic':
      return { ...s, mic: action.mic }
    case 'turn_ending':
      if (action.participantId !== s.me) return s
      return { ...s, deadline: now + action.secondsLeft * 1000 }
  }
}

function derive(s: FloorState): LearnerFloor {
  let status: ServerStatus
  const fromView = s.view ? statusInView(s.view, s.me) : null
  if (s.attributesNewer && s.attributes) status = s.attributes
  else if (fromView) status = fromView
  else return { kind: 'unknown' }
  const mode: FloorMode = s.view?.mode ?? 'moderated'
  switch (status.kind) {
    case 'speaking':
      return s.mic === 'off' ? { kind: 'granted' } : { kind: 'speaking', mic: s.mic }
    case 'queued':
      return {
        kind: 'queued',
        position: status.position,
        question: status.question || (fromView?.kind === 'queued' && fromView.question),
      }
    case 'none':
      return mode === 'closed' ? { kind: 'closed' } : { kind: 'idle' }
  }
}

export function maySpeak(l: LearnerFloor): boolean {
  return l.kind === 'granted' || l.kind === 'speaking'
}

const floorCue = (key: MessageKey, politeness: Cue['politeness'], extra: Partial<Cue> = {}): Cue => ({
  key,
  politeness,
  topic: 'floor',
  ...extra,
})

function queuedCue(l: { position: number | null; question: boolean }, moved: boolean): Cue {
  if (l.position === null) return floorCue(l.question ? 'floor.question_queued_unknown' : 'floor.queued_unknown', 'polite')
  const key = l.question ? (moved ? 'floor.question_moved' : 'floor.question_queued') : moved ? 'floor.moved' : 'floor.queued'
  return floorCue(key, 'polite', { values: { count: l.position, ordinal: true } })
}

function transition(prev: LearnerFloor, s: FloorState, now: number): Cue[] {
  const next = s.learner
  if (prev.kind === 'unknown') {
    // First news (a join, a reload): a held turn or a raised hand is worth saying.
    if (maySpeak(next)) return [floorCue('floor.granted', 'assertive', { sound: 'granted' })]
    if (next.kind === 'queued') return [queuedCue(next, false)]
    return []
  }
  if (!maySpeak(prev) && maySpeak(next)) {
    return [floorCue('floor.granted', 'assertive', { sound: 'granted' })]
  }
  if (maySpeak(prev) && !maySpeak(next)) {
    if (s.pending === 'give_back') return [floorCue('floor.released', 'polite')]
    if (s.deadline !== null && now >= s.deadline - DEADLINE_GRACE_MS) {
      return [floorCue('floor.expired', 'assertive', { sound: 'revoked' })]
    }
    return [floorCue('floor.revoked', 'assertive', { sound: 'revoked' })]
  }
  if (next.kind === 'speaking' && (prev.kind !== 'speaking' || prev.mic !== next.mic)) {
    return [floorCue(next.mic === 'live' ? 'mic.live' : 'mic.muted', 'polite')]
  }
  if (next.kind === 'queued') {
    if (prev.kind !== 'queued' || prev.question !== next.question) return [queuedCue(next, false)]
    if (prev.position !== next.position && next.position !== null) return [queuedCue(next, true)]
    return []
  }
  // A question that stopped waiting is said by its own news (learner/questions.ts).
  if (prev.kind === 'queued' && prev.question) return []
  if (prev.kind === 'queued') {
    if (s.pending === 'lower') return [floorCue('floor.lowered', 'polite')]
    if (next.kind === 'closed') return [floorCue('floor.closed_hand', 'polite')]
    return [floorCue('floor.dismissed', 'polite')]
  }
  if (prev.kind === 'idle' && next.kind === 'closed') return [floorCue('floor.closed', 'polite')]
  if (prev.kind === 'closed' && next.kind === 'idle') return [floorCue('floor.opened', 'polite')]
  return []
}

/** Cues that end a hand or a turn stay on screen as the notice. */
const NOTICES: readonly MessageKey[] = [
  'floor.revoked',
  'floor.expired',
  'floor.released',
  'floor.dismissed',
  'floor.closed_hand',
]

/** Someone else given the floor: said, so that listeners know who talks. */
function othersGranted(prev: FloorState, next: FloorState): Cue[] {
  if (prev.view === null || next.view === null || next.view === prev.view) return []
  const before = new Set(prev.view.speakers.map((s) => s.participant_id))
  return next.view.speakers
    .filter((s) => s.participant_id !== next.me && !before.has(s.participant_id))
    .map((s) => ({
      key: 'speakers.granted',
      values: { name: s.name },
      politeness: 'polite',
      topic: `speaker:${s.participant_id}`,
    }))
}

function fulfilled(request: Request, l: LearnerFloor): boolean {
  switch (request) {
    case 'raise':
      return l.kind === 'queued' || maySpeak(l)
    case 'lower':
      return l.kind !== 'queued'
    case 'give_back':
      return !maySpeak(l)
  }
}

export function step(state: FloorState, action: FloorAction, now: number): { state: FloorState; cues: Cue[] } {
  const applied = apply(state, action, now)
  const next = { ...applied, learner: derive(applied) }
  const cues = transition(state.learner, next, now)
  cues.push(...othersGranted(state, next))
  if (action.type === 'turn_ending' && action.participantId === state.me && maySpeak(next.learner)) {
    cues.push(floorCue('floor.turn_ending', 'assertive', { values: { count: Math.round(action.secondsLeft) } }))
  }
  const ended = cues.find((c) => NOTICES.includes(c.key))
  const changed = next.learner.kind !== state.learner.kind
  return {
    state: {
      ...next,
      pending:
        next.pending !== null &&
        !(action.type === 'view' && action.from === 'answer') &&
        !fulfilled(next.pending, next.learner)
          ? next.pending
          : null,
      deadline: maySpeak(next.learner) ? next.deadline : null,
      notice: ended ? ended.key : changed ? null : next.notice,
    },
    cues,
  }
}
