import { describe, expect, it } from 'vitest'

import type { Participant } from './api'
import { kindOf, mayKick, microphoneWithoutFloor, presenceKey, sortParticipants } from './participants'

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
