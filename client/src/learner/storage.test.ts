import { describe, expect, it } from 'vitest'

import {
  clearSeat,
  loadSeat,
  loadShortcutsEnabled,
  renewalDelay,
  saveSeat,
  saveShortcutsEnabled,
  type Seat,
} from './storage'

function memory(): Storage {
  const items = new Map<string, string>()
  return {
    get length() {
      return items.size
    },
    clear: () => items.clear(),
    getItem: (k) => items.get(k) ?? null,
    key: (i) => [...items.keys()][i] ?? null,
    removeItem: (k) => void items.delete(k),
    setItem: (k, v) => void items.set(k, v),
  }
}

const seat: Seat = {
  session_id: 's',
  participant_id: 'p',
  participant_token: 't',
  expires_at: '2025-01-01T10:15:00Z',
  code: '482913',
}

describe('the stored seat', () => {
  it('survives a round trip and is gone once cleared', () => {
    const storage = memory()
    saveSeat(seat, storage)
    expect(loadSeat(storage)).toEqual(seat)
    clearSeat(storage)
    expect(loadSeat(storage)).toBeNull()
  })

  it('is forgotten when unreadable', () => {
    const storage = memory()
    storage.setItem('estrade.seat', '{"session_id": 1}')
    expect(loadSeat(storage)).toBeNull()
    expect(storage.getItem('estrade.seat')).toBeNull()
    storage.setItem('estrade.seat', 'not json')
    expect(loadSeat(storage)).toBeNull()
  })

  it('is simply not kept when storage is unavailable or refuses', () => {
    expect(loadSeat(null)).toBeNull()
    const refusing = { ...memory(), setItem: () => { throw new Error('quota') } }
    expect(() => saveSeat(seat, refusing)).not.toThrow()
  })
})

describe('the shortcuts preference', () => {
  it('is on unless turned off', () => {
    const storage = memory()
    expect(loadShortcutsEnabled(storage)).toBe(true)
    saveShortcutsEnabled(false, storage)
    expect(loadShortcutsEnabled(storage)).toBe(false)
    saveShortcutsEnabled(true, storage)
    expect(loadShortcutsEnabled(storage)).toBe(true)
  })
})

describe('the renewal delay', () => {
  const now = Date.parse('2025-01-01T10:00:00Z')
  it('is three quarters of the remaining life', () => {
    expect(renewalDelay('2025-01-01T10:15:00Z', now)).toBe(675_000)
  })
  it('is never shorter than five seconds, even for an expired token', () => {
    expect(renewalDelay('2025-01-01T09:00:00Z', now)).toBe(5_000)
    expect(renewalDelay('garbage', now)).toBe(5_000)
  })
})
