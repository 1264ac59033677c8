// The participants as the console lists them: present first, then invited,
// then those who left, the removed last; each with its kind and presence in
// words, whether it may be removed, and the flag of a microphone open
// without the floor. Pure.

import type { MessageKey } from '../i18n'
import type { Participant } from './api'

const RANK = { present: 0, invited: 1, left: 2 } as const

export function sortParticipants(list: readonly Participant[], locale = 'en'): Participant[] {
  const rank = (p: Participant) => (p.kicked ? 3 : RANK[p.presence])
  return [...list].sort((a, b) => rank(a) - rank(b) || a.name.localeCompare(b.name, locale))
}

export function presenceKey(p: Participant): MessageKey {
  if (p.kicked) return 'console.participants.presence_kicked'
  return `console.participants.presence_${p.presence}`
}

export function kindOf(p: Participant): { key: MessageKey; values?: Record<string, number> } {
  if (p.kind === 'classroom' && p.headcount !== null && p.headcount > 0) {
    return { key: 'console.participants.kind_classroom_of', values: { count: p.headcount } }
  }
  return { key: `console.participants.kind_${p.kind}` }
}

/** The teacher is never removed (the server refuses); a removed participant is already out. */
export function mayKick(p: Participant): boolean {
  return p.kind !== 'teacher' && !p.kicked
}

export function microphoneWithoutFloor(p: Participant): boolean {
  return p.unauthorized_microphone === true
}

