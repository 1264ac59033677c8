// What the learner keeps in the browser (through app/storage.ts). The seat
// (participant token and ids) lives in sessionStorage: it survives a reload
// of this tab, so the learner gets the same seat back through
// POST /v1/participant/refresh, and dies with the tab. The shortcuts
// preference lives in localStorage. Storage can be unavailable (private
// modes, policies): then nothing is kept and nothing fails.

import { local, read, session, write } from '../app/storage'

export interface Seat {
  session_id: string
  participant_id: string
  participant_token: string
  /** When the participant token expires (RFC 3339). */
  expires_at: string
  /** The join code typed, to offer it again if the seat is lost. */
  code: string
}

const SEAT = 'estrade.seat'
const SHORTCUTS = 'estrade.shortcuts'

function isSeat(value: unknown): value is Seat {
  if (typeof value !== 'object' || value === null) return false
  const v = value as Record<string, unknown>
  return ['session_id', 'participant_id', 'participant_token', 'expires_at', 'code'].every(
    (k) => typeof v[k] === 'string',
  )
}

export function loadSeat(storage = session()): Seat | null {
  const raw = read(storage, SEAT)
  if (raw === null) return null
  try {
    const parsed: unknown = JSON.parse(raw)
    if (isSeat(parsed)) return parsed
  } catch {
    // Unreadable: forget it below.
  }
  write(storage, SEAT, null)
  return null
}

export function saveSeat(seat: Seat, storage = session()): void {
  write(storage, SEAT, JSON.stringify(seat))
}

export function clearSeat(storage = session()): void {
  write(storage, SEAT, null)
}

/** Keyboard shortcuts are on unless the learner turned them off. */
export function loadShortcutsEnabled(storage = local()): boolean {
  return read(storage, SHORTCUTS) !== 'off'
}

export function saveShortcutsEnabled(enabled: boolean, storage = local()): void {
  write(storage, SHORTCUTS, enabled ? 'on' : 'off')
}

/** How long to wait before renewing a token expiring at `expiresAt`: at
 *  three quarters of its remaining life, so a renewal that fails has time
 *  to be tried again. */
export function renewalDelay(expiresAt: string, now: number): number {
  const left = Date.parse(expiresAt) - now
  if (!Number.isFinite(left)) return 5_000
  return Math.min(2 ** 31 - 1, Math.max(5_000, Math.round(left * 0.75)))
}
