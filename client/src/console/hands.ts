// The hand queue as the teacher sees it: in the server's order, which hands
// are new since the last view (they ring), how long each has waited, who a
// classroom is, and where the focus goes when the list changes under it.
// Pure.

import type { FloorView, Hand } from '../api/client'
import type { MessageKey } from '../i18n'
import type { Participant } from './api'

/** The queue in the server's order (`position`, 1 first). */
export function sortedQueue(view: FloorView | null): Hand[] {
  return [...(view?.queue ?? [])].sort((a, b) => a.position - b.position)
}

/** Hands in `queue` that were not in the last one seen; none on the first view (`seen` null). */
export function freshHands(seen: ReadonlySet<string> | null, queue: readonly Hand[]): Hand[] {
  if (seen === null) return []
  return queue.filter((h) => !seen.has(h.participant_id))
}

/** Milliseconds from `since` (RFC 3339) to `now`; never negative (clocks differ a little). */
export function elapsed(since: string, now: number): number {
  const ms = now - Date.parse(since)
  return Number.isFinite(ms) ? Math.max(0, ms) : 0
}

/** Milliseconds left until `until`; never negative. */
export function remaining(until: string, now: number): number {
  const ms = Date.parse(until) - now
  return Number.isFinite(ms) ? Math.max(0, ms) : 0
}

/** "mm:ss", whole seconds, the minutes going past 59 (a wait of 75 min is "75:00"). */
export function formatClock(ms: number): string {
  const seconds = Math.floor(Math.max(0, ms) / 1000)
  const mm = String(Math.floor(seconds / 60)).padStart(2, '0')
  const ss = String(seconds % 60).padStart(2, '0')
  return `${mm}:${ss}`
}

/** The same length as an ISO 8601 duration, for <time dateTime>. */
export function isoDuration(ms: number): string {
  const seconds = Math.floor(Math.max(0, ms) / 1000)
  const m = Math.floor(seconds / 60)
  return m > 0 ? `PT${m}M${seconds % 60}S` : `PT${seconds}S`
}

/** How a hand is named in its row: a classroom says how many it stands for. */
export function handName(hand: Hand, participants: readonly Participant[]): { key: MessageKey; values: Record<string, string | number> } {
  const p = participants.find((x) => x.id === hand.participant_id)
  if (p?.kind === 'classroom' && p.headcount !== null && p.headcount > 0) {
    return { key: 'console.hands.classroom', values: { name: hand.name, count: p.headcount } }
  }
  return { key: 'console.hands.name', values: { name: hand.name } }
}

export type RowAction = 'grant' | 'answer' | 'lower'

/** The row button that had the focus. */
export interface RowFocus {
  id: string
  action: RowAction
}

/** Where the focus goes when the list changed and the focus fell to the page: the
 * same participant's button if still in line; else the same button of the next row
 * that is still there; else the "next in line" button. */
export function focusTarget(last: RowFocus, before: readonly string[], after: readonly string[]): RowFocus | 'grant_next' {
  if (after.includes(last.id)) return last
  const from = before.indexOf(last.id)
  const next = before.slice(from + 1).find((id) => after.includes(id))
  return next === undefined ? 'grant_next' : { id: next, action: last.action }
}
