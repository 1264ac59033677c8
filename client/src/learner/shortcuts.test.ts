import { describe, expect, it } from 'vitest'

import { SHORTCUTS, shortcutFor, type KeyPress } from './shortcuts'

const press = (code: string, change: Partial<KeyPress> = {}): KeyPress => ({
  code,
  altKey: true,
  shiftKey: true,
  ctrlKey: false,
  metaKey: false,
  repeat: false,
  inField: false,
  ...change,
})

describe('the keyboard shortcuts', () => {
  it('are Alt+Shift with H, V and F', () => {
    expect(shortcutFor(press('KeyH'))).toBe('hand')
    expect(shortcutFor(press('KeyV'))).toBe('mic')
    expect(shortcutFor(press('KeyF'))).toBe('give_back')
  })

  it.each([
    ['a single letter (screen readers’ quick navigation)', press('KeyH', { altKey: false, shiftKey: false })],
    ['Alt alone', press('KeyH', { shiftKey: false })],
    ['Shift alone', press('KeyH', { altKey: false })],
    ['with Ctrl (Ctrl+Alt is AltGr and VoiceOver’s)', press('KeyH', { ctrlKey: true })],
    ['with Meta', press('KeyH', { metaKey: true })],
    ['a held key repeating', press('KeyH', { repeat: true })],
    ['while typing in a field', press('KeyH', { inField: true })],
    ['another letter', press('KeyQ')],
  ])('ignore %s', (_what, key) => {
    expect(shortcutFor(key)).toBeNull()
  })

  it('use letters that sit at the same place on AZERTY and QWERTY', () => {
    const same = new Set('ERTYUIOPSDFGHJKLXCVBN')
    for (const s of SHORTCUTS) {
      expect(same.has(s.letter)).toBe(true)
      expect(s.code).toBe(`Key${s.letter}`)
    }
  })
})
