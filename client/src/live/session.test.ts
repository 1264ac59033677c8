import { describe, expect, it } from 'vitest'

import {
  initialSession,
  phaseOf,
  sessionCues,
  sessionReducer,
  sessionStep,
  type SessionAction,
  type SessionState,
} from './session'

const teacher = (camera = true, microphone = true): SessionAction => ({
  type: 'teacher',
  teacher: { present: true, camera, microphone },
})

function run(actions: SessionAction[], start: SessionState = initialSession) {
  let state = start
  const keys: string[] = []
  for (const action of actions) {
    const next = sessionStep(state, action)
    state = next.state
    keys.push(...next.cues.map((c) => c.key))
  }
  return { state, keys, phase: phaseOf(state) }
}

const live = run([{ type: 'connection', connection: 'connected' }, teacher()]).state

describe('the session', () => {
  it('connects, waits for the teacher, then is live', () => {
    const { keys, phase } = run([{ type: 'connection', connection: 'connected' }, teacher()])
    expect(phase).toBe('live')
    expect(keys).toEqual(['session.waiting', 'session.live'])
    expect(phaseOf(initialSession)).toBe('connecting')
  })

  it('goes back to waiting when the teacher leaves', () => {
    const { phase, keys } = run([{ type: 'teacher', teacher: { present: false, camera: false, microphone: false } }], live)
    expect(phase).toBe('waiting')
    expect(keys).toEqual(['session.waiting'])
  })

  it('says reconnecting assertively, then reconnected', () => {
    const drop = run([{ type: 'connection', connection: 'reconnecting' }], live)
    expect(drop.phase).toBe('reconnecting')
    expect(sessionCues(live, drop.state)).toEqual([
      { key: 'session.reconnecting', politeness: 'assertive', topic: 'session' },
    ])
    expect(run([{ type: 'connection', connection: 'connected' }], drop.state).keys).toEqual(['session.reconnected'])
  })

  it('says the teacher’s camera and microphone going off and on while live', () => {
    const { keys } = run([teacher(false, true), teacher(false, false), teacher(true, true)], live)
    expect(keys).toEqual(['teacher.camera_off', 'teacher.mic_off', 'teacher.camera_on', 'teacher.mic_on'])
  })

  it('says a weak connection once, and when it recovers', () => {
    const { keys } = run(
      [
        { type: 'quality', quality: 'good' },
        { type: 'quality', quality: 'poor' },
        { type: 'quality', quality: 'lost' },
        { type: 'quality', quality: 'excellent' },
      ],
      live,
    )
    expect(keys).toEqual(['connection.poor', 'connection.recovered'])
  })

  it.each([
    [{ type: 'session', status: 'ended' } as SessionAction, 'ended', 'session.ended'],
    [{ type: 'kicked' } as SessionAction, 'kicked', 'session.kicked'],
    [{ type: 'left' } as SessionAction, 'left', 'session.left'],
    [{ type: 'disconnected', cause: 'removed' } as SessionAction, 'kicked', 'session.kicked'],
    [{ type: 'disconnected', cause: 'room_deleted' } as SessionAction, 'ended', 'session.ended'],
    [{ type: 'disconnected', cause: 'other' } as SessionAction, 'lost', 'session.lost'],
  ])('ends on %o as %s', (action, end, key) => {
    const { state, keys } = run([action], live)
    expect(state.end).toBe(end)
    expect(keys).toEqual([key])
  })

  it('ends nothing on its own disconnect, which a reload causes: the seat is kept', () => {
    const { state, keys } = run([{ type: 'disconnected', cause: 'client' }], live)
    expect(state.end).toBeNull()
    expect(keys).toEqual([])
  })

  it('keeps the first ending, and nothing after it changes the phase', () => {
    const ended = run([{ type: 'session', status: 'ended' }], live).state
    const after = run(
      [{ type: 'kicked' }, { type: 'disconnected', cause: 'client' }, { type: 'connection', connection: 'connected' }],
      ended,
    )
    expect(after.phase).toBe('ended')
    expect(after.keys).toEqual([])
  })

  it('lets later news explain a lost connection', () => {
    const lost = run([{ type: 'disconnected', cause: 'other' }], live).state
    expect(run([{ type: 'kicked' }], lost).state.end).toBe('kicked')
  })

  it('ignores a session event that is not an end', () => {
    expect(sessionReducer(live, { type: 'session', status: 'live' })).toBe(live)
  })
})
