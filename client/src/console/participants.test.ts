import { describe, expect, it } from 'vitest'

import type { Participant } from './api'
import { debounce, kindOf, mayKick, microphoneWithoutFloor, presenceKey, sortParticipants } from './participants'

const person = (id: string, change: Partial<Participant> = {}): Participant => ({
  id,
  kind: 'learner',
  identity: `l-${id}`,
  name: id,
  headcount: null,
  presence: 'present',
  kicked: false,
  created_at: '',
  joined_at: null,
  left_at: null,
  ...change,
})

describe('the participants', () => {
  it('list the present first, then the invited, those who left, and the removed', () => {
    const list = [
      person('Zoé', { presence: 'left' }),
      person('Bea', { kicked: true }),
      person('Yann', { presence: 'invited' }),
      person('Ana'),
      person('Émile'),
    ]
    expect(sortParticipants(list, 'fr').map((p) => p.id)).toEqual(['Ana', 'Émile', 'Yann', 'Zoé', 'Bea'])
  })

  it('say presence and kind in words, a classroom with how many', () => {
    expect(presenceKey(person('a', { presence: 'invited' }))).toBe('console.participants.presence_invited')
    expect(presenceKey(person('a', { presence: 'left', kicked: true }))).toBe('console.participants.presence_kicked')
    expect(kindOf(person('a', { kind: 'classroom', headcount: 24 }))).toEqual({
      key: 'console.participants.kind_classroom_of',
      values: { count: 24 },
    })
    expect(kindOf(person('a', { kind: 'observer' }))).toEqual({ key: 'console.participants.kind_observer' })
  })

  it('may be removed, except the teacher and those already removed', () => {
    expect(mayKick(person('a'))).toBe(true)
    expect(mayKick(person('a', { presence: 'left' }))).toBe(true)
    expect(mayKick(person('t', { kind: 'teacher' }))).toBe(false)
    expect(mayKick(person('a', { kicked: true }))).toBe(false)
  })

  it('are flagged when a microphone is open without the floor', () => {
    expect(microphoneWithoutFloor(person('a', { unauthorized_microphone: true }))).toBe(true)
    expect(microphoneWithoutFloor(person('a', { unauthorized_microphone: false }))).toBe(false)
    expect(microphoneWithoutFloor(person('a'))).toBe(false)
  })
})

describe('the list’s refresh after presence events', () => {
  it('runs once, after the last of a burst', () => {
    const timers: { run: () => void; ms: number; cleared: boolean }[] = []
    let runs = 0
    const refresh = debounce(() => (runs += 1), 400, {
      set: (run, ms) => {
        const t = { run, ms, cleared: false }
        timers.push(t)
        return t
      },
      clear: (t) => {
        ;(t as { cleared: boolean }).cleared = true
      },
    })
    refresh.call()
    refresh.call()
    refresh.call()
    expect(timers.map((t) => t.cleared)).toEqual([true, true, false])
    timers[2]?.run()
    expect(runs).toBe(1)
    refresh.call()
    refresh.cancel()
    expect(timers[3]?.cleared).toBe(true)
  })
})
