import { describe, expect, it } from 'vitest'

import { SAME_ON_AZERTY, type KeyPress } from '../a11y/shortcuts'
import { CONSOLE_SHORTCUTS, KEYS, consoleShortcutFor } from './shortcuts'

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

describe('the console’s shortcuts', () => {
  it('are Alt+Shift+N for the next in line and Alt+Shift+R for everyone’s floor back', () => {
    expect(consoleShortcutFor(press('KeyN'))).toBe('grant_next')
    expect(consoleShortcutFor(press('KeyR'))).toBe('revoke_all')
  })

  it.each([
    ['while typing in a field', press('KeyN', { inField: true })],
    ['a single letter', press('KeyN', { altKey: false, shiftKey: false })],
    ['with Ctrl', press('KeyR', { ctrlKey: true })],
    ['with Meta', press('KeyR', { metaKey: true })],
    ['a held key repeating', press('KeyN', { repeat: true })],
    ['the learner’s hand key', press('KeyH')],
  ])('ignore %s', (_what, key) => {
    expect(consoleShortcutFor(key)).toBeNull()
  })

  it('use letters at the same place on AZERTY and QWERTY, and say them to assistive tech', () => {
    for (const s of CONSOLE_SHORTCUTS) {
      expect(SAME_ON_AZERTY.has(s.letter)).toBe(true)
      expect(s.code).toBe(`Key${s.letter}`)
      expect(KEYS[s.action]).toBe(`Alt+Shift+${s.letter}`)
    }
  })
})
