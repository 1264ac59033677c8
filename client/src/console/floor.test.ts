import { describe, expect, it } from 'vitest'

import type { FloorView, Hand, Speaker } from '../api/client'
import { consoleFloorStep, initialConsoleFloor, withHandSound, type ConsoleFloor } from './floor'

const hand = (id: string, position: number): Hand => ({ participant_id: id, name: `N-${id}`, raised_at: '2026-12-02T10:00:00Z', position })
const speaker = (id: string): Speaker => ({ participant_id: id, name: `N-${id}`, since: '2026-12-02T10:00:00Z', expires_at: null })

const view = (version: number, queue: Hand[], speakers: Speaker[] = []): FloorView => ({
  mode: 'moderated',
  max_speakers: 1,
  speaking_time_limit_s: null,
  speakers,
  queue,
  version,
})

function run(views: FloorView[], start: ConsoleFloor = initialConsoleFloor) {
  let state = start
  const said: string[] = []
  for (const v of views) {
    const next = consoleFloorStep(state, v)
    state = next.state
    said.push(...next.cues.map((c) => `${c.key}${c.values ? ` ${JSON.stringify(c.values)}` : ''}${c.sound ? ` ♪${c.sound}` : ''}`))
  }
  return { state, said }
}

describe('the console’s floor', () => {
  it('says nothing of the hands already up when it first looks', () => {
    const { state, said } = run([view(3, [hand('a', 1), hand('b', 2)])])
    expect(said).toEqual([])
    expect([...(state.seen ?? [])]).toEqual(['a', 'b'])
  })

  it('rings and says a new hand, with how many wait', () => {
    const { said } = run([view(1, [hand('a', 1)]), view(2, [hand('a', 1), hand('b', 2)])])
    expect(said).toEqual(['console.hands.raised {"name":"N-b","count":2} ♪hand'])
  })

  it('says a new typed question as a question', () => {
    const question: Hand = { ...hand('q', 2), kind: 'question', question_id: 'q1' }
    const { said } = run([view(1, [hand('a', 1)]), view(2, [hand('a', 1), question])])
    expect(said).toEqual(['console.hands.asked {"name":"N-q","count":2} ♪hand'])
  })

  it('rings once for several new hands at once, naming the newest', () => {
    const { said } = run([view(1, []), view(5, [hand('a', 1), hand('b', 2), hand('c', 3)])])
    expect(said).toEqual(['console.hands.raised {"name":"N-c","count":3} ♪hand'])
  })

  it('keeps the highest version: a late answer changes nothing and says nothing', () => {
    const { state, said } = run([view(1, []), view(3, [hand('a', 1)]), view(2, [])])
    expect(state.view?.version).toBe(3)
    expect(said).toHaveLength(1)
  })

  it('says who was given the floor and whose turn ended', () => {
    const { said } = run([view(1, [hand('a', 1)]), view(2, [], [speaker('a')]), view(3, [], [])])
    expect(said).toEqual(['console.floor.granted {"name":"N-a"}', 'console.floor.ended {"name":"N-a"}'])
  })
})

describe('the raised-hand tone', () => {
  const cues = consoleFloorStep({ view: view(1, []), seen: new Set() }, view(2, [hand('a', 1)])).cues

  it('plays at the teacher’s volume', () => {
    expect(withHandSound(cues, { on: true, volume: 40 })[0]).toMatchObject({ sound: 'hand', volume: 0.4 })
  })

  it('is silent when off or at zero, the announcement kept', () => {
    for (const sound of [{ on: false, volume: 80 }, { on: true, volume: 0 }]) {
      const [cue] = withHandSound(cues, sound)
      expect(cue?.sound).toBeUndefined()
      expect(cue?.key).toBe('console.hands.raised')
    }
  })
})
