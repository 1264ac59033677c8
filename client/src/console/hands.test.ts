import { describe, expect, it } from 'vitest'

import type { FloorView, Hand } from '../api/client'
import type { Participant } from './api'
import { elapsed, focusTarget, formatClock, freshHands, handName, isoDuration, remaining, sortedQueue } from './hands'

const hand = (id: string, position: number, name = id): Hand => ({
  participant_id: id,
  name,
  raised_at: '2026-12-02T10:00:00Z',
  position,
})

const view = (queue: Hand[]): FloorView => ({
  mode: 'moderated',
  max_speakers: 1,
  speaking_time_limit_s: null,
  speakers: [],
  queue,
  version: 1,
})

describe('the queue', () => {
  it('is in the server’s order, by position', () => {
    expect(sortedQueue(view([hand('c', 3), hand('a', 1), hand('b', 2)])).map((h) => h.participant_id)).toEqual(['a', 'b', 'c'])
    expect(sortedQueue(null)).toEqual([])
  })

  it('rings for hands not in the last view, never for the first view', () => {
    expect(freshHands(null, [hand('a', 1)])).toEqual([])
    expect(freshHands(new Set(['a']), [hand('a', 1), hand('b', 2)]).map((h) => h.participant_id)).toEqual(['b'])
    expect(freshHands(new Set(['a', 'b']), [hand('b', 1)])).toEqual([])
  })

  it('rings again for a hand lowered and raised again', () => {
    const afterLowering = new Set<string>()
    expect(freshHands(afterLowering, [hand('a', 1)]).map((h) => h.participant_id)).toEqual(['a'])
  })
})

describe('the clocks', () => {
  const now = Date.parse('2026-12-02T10:03:07.900Z')

  it('show the wait as mm:ss in whole seconds', () => {
    expect(formatClock(elapsed('2026-12-02T10:00:00Z', now))).toBe('03:07')
    expect(formatClock(0)).toBe('00:00')
    expect(formatClock(59_999)).toBe('00:59')
    expect(formatClock(75 * 60_000 + 5_000)).toBe('75:05')
  })

  it('never go negative when the clocks disagree, nor break on a bad time', () => {
    expect(elapsed('2026-12-02T10:05:00Z', now)).toBe(0)
    expect(elapsed('garbage', now)).toBe(0)
    expect(remaining('2026-12-02T10:03:00Z', now)).toBe(0)
    expect(formatClock(remaining('2026-12-02T10:04:00Z', now))).toBe('00:52')
  })

  it('give the same length as an ISO duration', () => {
    expect(isoDuration(187_900)).toBe('PT3M7S')
    expect(isoDuration(9_000)).toBe('PT9S')
  })
})

describe('a hand’s name', () => {
  const classroom: Participant = {
    id: 'c1',
    kind: 'classroom',
    identity: 'c-1',
    name: '4B',
    headcount: 24,
    presence: 'present',
    kicked: false,
    created_at: '',
    joined_at: null,
    left_at: null,
  }

  it('says how many a classroom stands for', () => {
    expect(handName(hand('c1', 1, '4B'), [classroom])).toEqual({ key: 'console.hands.classroom', values: { name: '4B', count: 24 } })
    expect(handName(hand('l1', 1, 'Ana'), [classroom])).toEqual({ key: 'console.hands.name', values: { name: 'Ana' } })
  })
})

describe('the focus when the queue changes under it', () => {
  it('stays on the same participant’s button when the rows move', () => {
    expect(focusTarget({ id: 'b', action: 'lower' }, ['a', 'b', 'c'], ['b', 'c'])).toEqual({ id: 'b', action: 'lower' })
  })

  it('goes to the next row’s same button when that participant left the queue', () => {
    expect(focusTarget({ id: 'a', action: 'grant' }, ['a', 'b', 'c'], ['b', 'c'])).toEqual({ id: 'b', action: 'grant' })
    expect(focusTarget({ id: 'b', action: 'grant' }, ['a', 'b', 'c'], ['a', 'c'])).toEqual({ id: 'c', action: 'grant' })
  })

  it('skips next rows that left too, and falls back to “next in line” at the end', () => {
    expect(focusTarget({ id: 'a', action: 'grant' }, ['a', 'b', 'c'], ['c'])).toEqual({ id: 'c', action: 'grant' })
    expect(focusTarget({ id: 'c', action: 'grant' }, ['a', 'b', 'c'], ['a', 'b'])).toBe('grant_next')
    expect(focusTarget({ id: 'a', action: 'lower' }, ['a'], [])).toBe('grant_next')
  })
})
