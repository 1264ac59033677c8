// The floor as the teacher's console follows it: the server's floor (the
// stream's `floor` events, the first GET, and the answers to the teacher's
// commands), keeping the highest `version` as live/floor.ts does, since the
// answers and the stream travel apart and either can be late. What to say
// at each change: a new hand (with its tone), someone given the floor,
// someone's turn over. Pure.

import type { Cue } from '../a11y/announcer'
import type { FloorView } from '../api/client'
import { freshHands, sortedQueue } from './hands'

export interface ConsoleFloor {
  view: FloorView | null
  /** The hands of the last view; null before the first (the first view does not ring). */
  seen: ReadonlySet<string> | null
}

export const initialConsoleFloor: ConsoleFloor = { view: null, seen: null }

export function consoleFloorStep(state: ConsoleFloor, view: FloorView): { state: ConsoleFloor; cues: Cue[] } {
  if (state.view !== null && view.version <= state.view.version) return { state, cues: [] }
  const queue = sortedQueue(view)
  const fresh = freshHands(state.seen, queue)
  const cues: Cue[] = []
  // Several at once (a stream catching up): one tone, the newest said with the count.
  const newest = fresh[fresh.length - 1]
  if (newest) {
    cues.push({
      key: newest.kind === 'question' ? 'console.hands.asked' : 'console.hands.raised',
      values: { name: newest.name, count: queue.length },
      politeness: 'polite',
      topic: 'hand',
      sound: 'hand',
    })
  }
  if (state.view !== null) {
    const before = new Set(state.view.speakers.map((s) => s.participant_id))
    const now = new Set(view.speakers.map((s) => s.participant_id))
    for (const s of view.speakers) {
      if (!before.has(s.participant_id)) {
        cues.push({ key: 'console.floor.granted', values: { name: s.name }, politeness: 'polite', topic: `speaker:${s.participant_id}` })
      }
    }
    for (const s of state.view.speakers) {
      if (!now.has(s.participant_id)) {
        cues.push({ key: 'console.floor.ended', values: { name: s.name }, politeness: 'polite', topic: `speaker:${s.participant_id}` })
      }
    }
  }
  return { state: { view, seen: new Set(queue.map((h) => h.participant_id)) }, cues }
}

/** The raised-hand tone as the teacher set it: at their volume, or not at all when off. */
export function withHandSound(cues: readonly Cue[], sound: { on: boolean; volume: number }): Cue[] {
  return cues.map((c) => {
    if (c.sound !== 'hand') return c
    if (!sound.on || sound.volume <= 0) return { ...c, sound: undefined }
    return { ...c, volume: sound.volume / 100 }
  })
}
