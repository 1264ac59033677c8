// The one announcer: every message a screen reader should speak goes
// through it, to one polite (role=status) or one assertive (role=alert)
// region. Messages are spaced at least `spacingMs` apart, since a reader
// given two at once speaks only the last; an assertive message waiting goes
// before polite ones; a newer message on the same topic replaces one still
// waiting (a queue position that moved twice is said once, as it is now).
// Each is translated when it is spoken, in the language of that moment.
// Every message is emitted from a timer task of its own, even one due at
// once, so that what else the page does in the task that asked for it
// (a render, a LiveKit event) never delays it on its way to the page and
// brings it closer to the next one.

import type { MessageKey } from '../i18n'

export type Politeness = 'polite' | 'assertive'

/** The floor given, the microphone closed (the learner's), a hand raised (the teacher's). */
export type Sound = 'granted' | 'revoked' | 'hand'

/** Something to tell the learner: said, and sometimes heard as a tone. */
export interface Cue {
  key: MessageKey
  values?: Record<string, string | number | boolean>
  politeness: Politeness
  /** Messages of one topic replace each other while waiting. */
  topic: string
  sound?: Sound
  /** The tone's volume, 0–1, where the person chose one (the console's raised-hand sound). */
  volume?: number
}

export interface Announcement {
  text: string
  politeness: Politeness
}

export interface AnnouncerOptions {
  emit: (announcement: Announcement) => void
  translate: (key: MessageKey, values?: Record<string, string | number | boolean>) => string
  spacingMs?: number
  now?: () => number
  setTimer?: (run: () => void, ms: number) => unknown
  clearTimer?: (timer: unknown) => void
}

export interface Announcer {
  say(cue: Cue): void
  dispose(): void
}

/** Messages reach the page at least 300 ms apart: the timer waits 350, so
 * that a task delayed by a frame never brings two closer than 300. */
export const SPACING_MS = 350

export function createAnnouncer(options: AnnouncerOptions): Announcer {
  const spacing = options.spacingMs ?? SPACING_MS
  const now = options.now ?? (() => performance.now())
  const setTimer = options.setTimer ?? ((run, ms) => setTimeout(run, ms))
  const clearTimer = options.clearTimer ?? ((t) => clearTimeout(t as ReturnType<typeof setTimeout>))
  const waiting: Cue[] = []
  let last = Number.NEGATIVE_INFINITY
  let timer: unknown = null

  function emitNext() {
    timer = null
    const cue = waiting.shift()
    if (!cue) return
    last = now()
    options.emit({ text: options.translate(cue.key, cue.values), politeness: cue.politeness })
    schedule()
  }

  function schedule() {
    if (timer !== null || waiting.length === 0) return
    timer = setTimer(emitNext, Math.max(0, last + spacing - now()))
  }

  function enqueue(cue: Cue) {
    const same = waiting.findIndex((w) => w.topic === cue.topic)
    if (same >= 0) waiting.splice(same, 1)
    if (cue.politeness === 'assertive') {
      const firstPolite = waiting.findIndex((w) => w.politeness === 'polite')
      waiting.splice(firstPolite < 0 ? waiting.length : firstPolite, 0, cue)
    } else {
      waiting.push(cue)
    }
  }

  return {
    say(cue) {
      enqueue(cue)
      schedule()
    },
    dispose() {
      if (timer !== null) clearTimer(timer)
      timer = null
      waiting.length = 0
    },
  }
}
