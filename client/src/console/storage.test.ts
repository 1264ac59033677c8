import { describe, expect, it } from 'vitest'

import { DEFAULT_VOLUME, loadHandSound, loadShortcutsEnabled, saveHandSound, saveShortcutsEnabled } from './storage'

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

describe('the raised-hand sound settings', () => {
  it('are on, at the default volume, until changed', () => {
    expect(loadHandSound(memory())).toEqual({ on: true, volume: DEFAULT_VOLUME })
  })

  it('survive a round trip, muted or not', () => {
    const storage = memory()
    saveHandSound({ on: false, volume: 35 }, storage)
    expect(loadHandSound(storage)).toEqual({ on: false, volume: 35 })
    saveHandSound({ on: true, volume: 100 }, storage)
    expect(loadHandSound(storage)).toEqual({ on: true, volume: 100 })
  })

  it('keep the volume between 0 and 100, and ignore what they cannot read', () => {
    const storage = memory()
    saveHandSound({ on: true, volume: 140 }, storage)
    expect(loadHandSound(storage).volume).toBe(100)
    storage.setItem('estrade.console.hand_volume', '-3')
    expect(loadHandSound(storage).volume).toBe(0)
    storage.setItem('estrade.console.hand_volume', 'loud')
    expect(loadHandSound(storage).volume).toBe(DEFAULT_VOLUME)
  })

  it('work without storage', () => {
    expect(loadHandSound(null)).toEqual({ on: true, volume: DEFAULT_VOLUME })
    expect(() => saveHandSound({ on: false, volume: 1 }, null)).not.toThrow()
  })
})

describe('the console’s shortcuts preference', () => {
  it('is on unless turned off', () => {
    const storage = memory()
    expect(loadShortcutsEnabled(storage)).toBe(true)
    saveShortcutsEnabled(false, storage)
    expect(loadShortcutsEnabled(storage)).toBe(false)
  })
})
