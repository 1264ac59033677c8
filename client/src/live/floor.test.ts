import { describe, expect, it } from 'vitest'

import type { FloorView } from '../api/client'
import {
  DEADLINE_GRACE_MS,
  initialFloor,
  statusFromAttributes,
  step,
  type FloorAction,
  type FloorState,
} from './floor'

const ME = 'me'
const OTHER = 'other'

let version = 0
function view(
  parts: { speakers?: string[]; queue?: string[]; questions?: string[]; mode?: FloorView['mode'] } = {},
): FloorView {
  version += 1
  return {
    mode: parts.mode ?? 'moderated',
    max_speakers: 1,
    speaking_time_limit_s: null,
    speakers: (parts.speakers ?? []).map((id) => ({
      participant_id: id,
      name: id === ME ? 'Me' : 'Ana',
      since: '2025-01-01T10:00:00Z',
      expires_at: null,
    })),
    queue: (parts.queue ?? []).map((id, i) => ({
      participant_id: id,
      name: id === ME ? 'Me' : 'Ana',
      raised_at: '2025-01-01T10:00:00Z',
      position: i + 1,
      kind: parts.questions?.includes(id) ? ('question' as const) : ('hand' as const),
      question_id: parts.questions?.includes(id) ? `q-${id}` : null,
    })),
    version,
  }
}

const stream = (v: FloorView): FloorAction => ({ type: 'view', view: v, from: 'stream' })
const answer = (v: FloorView): FloorAction => ({ type: 'view', view: v, from: 'answer' })

/** Runs actions from the initial state; returns the state and every cue's key. */
function run(actions: FloorAction[], start: FloorState = initialFloor(ME), now = 1_000_000) {
  let state = start
  const cues: { key: string; sound?: string; politeness: string }[] = []
  for (const action of actions) {
    const next = step(state, action, now)
    state = next.state
    cues.push(...next.cues)
  }
  return { state, keys: cues.map((c) => c.key), cues }
}

/** A learner who already saw an idle floor (no first-news cues), older than any view made after. */
function idle(): FloorState {
  return run([stream({ ...view(), version: 0 })]).state
}

describe('the learner floor', () => {
  it('is unknown until the server said something, and says nothing for an idle first floor', () => {
    expect(initialFloor(ME).learner).toEqual({ kind: 'unknown' })
    const { state, keys } = run([stream(view())])
    expect(state.learner).toEqual({ kind: 'idle' })
    expect(keys).toEqual([])
  })

  it('says the place in line when the hand goes up, and each time it moves', () => {
    const { state, keys } = run(
      [
        { type: 'asked', request: 'raise' },
        answer(view({ queue: [OTHER, 'x', ME] })),
        stream(view({ queue: ['x', ME] })),
        stream(view({ queue: [ME] })),
      ],
      idle(),
    )
    expect(state.learner).toEqual({ kind: 'queued', position: 1, question: false })
    expect(keys).toEqual(['floor.queued', 'floor.moved', 'floor.moved'])
    expect(state.pending).toBeNull()
  })

  it('announces a grant assertively with its tone, then the microphone live and muted', () => {
    const { state, cues } = run(
      [
        stream(view({ queue: [ME] })),
        stream(view({ speakers: [ME] })),
        { type: 'mic', mic: 'live' },
        { type: 'mic', mic: 'muted' },
      ],
      idle(),
    )
    expect(state.learner).toEqual({ kind: 'speaking', mic: 'muted' })
    expect(cues.map((c) => [c.key, c.politeness, c.sound])).toEqual([
      ['floor.queued', 'polite', undefined],
      ['floor.granted', 'assertive', 'granted'],
      ['mic.live', 'polite', undefined],
      ['mic.muted', 'polite', undefined],
    ])
  })

  it('is granted, not speaking, until the learner opens the microphone', () => {
    const { state } = run([stream(view({ speakers: [ME] }))], idle())
    expect(state.learner).toEqual({ kind: 'granted' })
  })

  it('tells a revoke by the teacher, with its own tone, and keeps it as the notice', () => {
    const granted = run([stream(view({ speakers: [ME] })), { type: 'mic', mic: 'live' }], idle()).state
    const { state, cues } = run([stream(view())], granted)
    expect(cues).toEqual([expect.objectContaining({ key: 'floor.revoked', politeness: 'assertive', sound: 'revoked' })])
    expect(state.learner).toEqual({ kind: 'idle' })
    expect(state.notice).toBe('floor.revoked')
  })

  it('tells giving the floor back apart from a revoke, without a tone', () => {
    const speaking = run([stream(view({ speakers: [ME] })), { type: 'mic', mic: 'live' }], idle()).state
    // The client stops its microphone first, then the server's floor follows.
    const { state, cues } = run(
      [{ type: 'asked', request: 'give_back' }, { type: 'mic', mic: 'off' }, stream(view())],
      speaking,
    )
    expect(cues).toEqual([expect.objectContaining({ key: 'floor.released', politeness: 'polite' })])
    expect(cues[0]?.sound).toBeUndefined()
    expect(state.pending).toBeNull()
  })

  it('says giving back once whether the answer or the stream comes first', () => {
    const speaking = run([stream(view({ speakers: [ME] }))], idle()).state
    const after = view()
    const answerFirst = run([{ type: 'asked', request: 'give_back' }, answer(after), stream(after)], speaking)
    expect(answerFirst.keys).toEqual(['floor.released'])
    const streamFirst = run([{ type: 'asked', request: 'give_back' }, stream(after), answer(after)], speaking)
    expect(streamFirst.keys).toEqual(['floor.released'])
  })

  it('tells a turn that ran out from a revoke, by the deadline of turn_ending', () => {
    const now = 5_000_000
    const granted = run([stream(view({ speakers: [ME] }))], idle(), now).state
    const warned = run([{ type: 'turn_ending', participantId: ME, secondsLeft: 10 }], granted, now)
    expect(warned.keys).toEqual(['floor.turn_ending'])
    expect(warned.state.deadline).toBe(now + 10_000)

    const expired = run([stream(view())], warned.state, now + 10_000 - DEADLINE_GRACE_MS + 1)
    expect(expired.cues).toEqual([expect.objectContaining({ key: 'floor.expired', sound: 'revoked' })])
    expect(expired.state.deadline).toBeNull()

    const revokedEarly = run([stream(view())], warned.state, now + 2_000)
    expect(revokedEarly.keys).toEqual(['floor.revoked'])
  })

  it('ignores another participant’s turn_ending', () => {
    const granted = run([stream(view({ speakers: [ME, OTHER] }))], idle()).state
    const { state, keys } = run([{ type: 'turn_ending', participantId: OTHER, secondsLeft: 10 }], granted)
    expect(keys).toEqual([])
    expect(state.deadline).toBeNull()
  })

  it('tells lowering the hand apart from the teacher dismissing it and from closing the floor', () => {
    const queued = run([stream(view({ queue: [ME] }))], idle()).state
    expect(run([{ type: 'asked', request: 'lower' }, stream(view())], queued).keys).toEqual(['floor.lowered'])
    const dismissed = run([stream(view())], queued)
    expect(dismissed.keys).toEqual(['floor.dismissed'])
    expect(dismissed.state.notice).toBe('floor.dismissed')
    const closed = run([stream(view({ mode: 'closed' }))], queued)
    expect(closed.keys).toEqual(['floor.closed_hand'])
    expect(closed.state.learner).toEqual({ kind: 'closed' })
  })

  it('says when the floor closes and opens again', () => {
    const { keys } = run([stream(view({ mode: 'closed' })), stream(view({ mode: 'open' }))], idle())
    expect(keys).toEqual(['floor.closed', 'floor.opened'])
  })

  it('goes straight to granted when a raise in an open floor is answered with the floor', () => {
    const { state, keys } = run(
      [{ type: 'asked', request: 'raise' }, answer(view({ mode: 'open', speakers: [ME] }))],
      idle(),
    )
    expect(state.learner).toEqual({ kind: 'granted' })
    expect(keys).toEqual(['floor.granted'])
  })

  it('keeps the highest version: an older answer after a newer event changes nothing', () => {
    const older = view({ queue: [ME] })
    const newer = view({ speakers: [ME] })
    const { state, keys } = run([stream(newer), answer(older)], idle())
    expect(state.learner).toEqual({ kind: 'granted' })
    expect(keys).toEqual(['floor.granted'])
  })

  it('follows the stream while it is live, ignoring late attributes', () => {
    const { state, keys } = run(
      [
        stream(view({ queue: [ME] })),
        stream(view({ speakers: [ME] })),
        // The raise's attributes land after the grant's event.
        { type: 'attributes', attributes: { 'estrade.hand': 'raised', 'estrade.floor': 'none', 'estrade.queue_position': '1' } },
      ],
      idle(),
    )
    expect(state.learner).toEqual({ kind: 'granted' })
    expect(keys).toEqual(['floor.queued', 'floor.granted'])
  })

  it('follows the attributes while the stream is down, and the stream again once it delivers', () => {
    const down = run([{ type: 'stream_down' }], idle()).state
    const granted = run(
      [{ type: 'attributes', attributes: { 'estrade.hand': 'none', 'estrade.floor': 'speaking' } }],
      down,
    )
    expect(granted.state.learner).toEqual({ kind: 'granted' })
    expect(granted.keys).toEqual(['floor.granted'])
    const back = run([stream(view({ speakers: [ME] }))], granted.state)
    expect(back.keys).toEqual([])
    expect(back.state.attributesNewer).toBe(false)
    const revoked = run([stream(view())], back.state)
    expect(revoked.keys).toEqual(['floor.revoked'])
  })

  it('announces a floor held at arrival (a reload mid-turn) and a hand already up', () => {
    expect(run([stream(view({ speakers: [ME] }))]).keys).toEqual(['floor.granted'])
    expect(run([stream(view({ queue: [OTHER, ME] }))]).keys).toEqual(['floor.queued'])
  })

  it('says who else is given the floor, once', () => {
    const { keys, cues } = run([stream(view({ speakers: [OTHER] })), stream(view({ speakers: [OTHER] }))], idle())
    expect(keys).toEqual(['speakers.granted'])
    expect(cues[0]).toMatchObject({ values: { name: 'Ana' } })
  })

  it('clears a pending request that failed', () => {
    const { state } = run([{ type: 'asked', request: 'raise' }, { type: 'request_failed' }], idle())
    expect(state.pending).toBeNull()
  })

  it('clears the notice at the next change', () => {
    const revoked = run([stream(view({ speakers: [ME] })), stream(view())], idle()).state
    expect(revoked.notice).toBe('floor.revoked')
    expect(run([stream(view({ queue: [ME] }))], revoked).state.notice).toBeNull()
  })
})

describe('a typed question in line', () => {
  it('says its place as a question, and says nothing of its own when it stops waiting', () => {
    const asked = run([answer(view({ queue: [OTHER, ME], questions: [ME] })), stream(view({ queue: [ME], questions: [ME] }))], idle())
    expect(asked.state.learner).toEqual({ kind: 'queued', position: 1, question: true })
    expect(asked.keys).toEqual(['floor.question_queued', 'floor.question_moved'])
    // Answered aloud or dismissed: the question's own news says it (learner/questions.ts).
    const answered = run([stream(view())], asked.state)
    expect(answered.state.learner).toEqual({ kind: 'idle' })
    expect(answered.keys).toEqual([])
    expect(answered.state.notice).toBeNull()
  })

  it('turns a raised hand into a question in the same place, and a grant from it is a grant', () => {
    const hand = run([stream(view({ queue: [OTHER, ME] }))], idle())
    const question = run([answer(view({ queue: [OTHER, ME], questions: [ME] }))], hand.state)
    expect(question.keys).toEqual(['floor.question_queued'])
    expect(run([stream(view({ speakers: [ME] }))], question.state).keys).toEqual(['floor.granted'])
  })

  it('stays a question while only the attributes speak', () => {
    const asked = run([stream(view({ queue: [OTHER, ME], questions: [ME] }))], idle()).state
    const down = run(
      [{ type: 'stream_down' }, { type: 'attributes', attributes: { 'estrade.hand': 'raised', 'estrade.queue_position': '1' } }],
      asked,
    )
    expect(down.state.learner).toEqual({ kind: 'queued', position: 1, question: true })
    expect(down.keys).toEqual(['floor.question_moved'])
  })
})

describe('the attributes', () => {
  it('say nothing before the server set them', () => {
    expect(statusFromAttributes({})).toBeNull()
  })

  it('read speaking, a raised hand with its place, and none', () => {
    expect(statusFromAttributes({ 'estrade.floor': 'speaking', 'estrade.hand': 'none' })).toEqual({ kind: 'speaking' })
    expect(statusFromAttributes({ 'estrade.hand': 'raised', 'estrade.queue_position': '3' })).toEqual({
      kind: 'queued',
      position: 3,
      question: false,
    })
    expect(statusFromAttributes({ 'estrade.hand': 'raised' })).toEqual({ kind: 'queued', position: null, question: false })
    expect(statusFromAttributes({ 'estrade.hand': 'none', 'estrade.floor': 'none' })).toEqual({ kind: 'none' })
  })
})
