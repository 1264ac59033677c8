// Keyboard shortcuts: Alt+Shift with a letter. Screen readers take single
// letters (quick navigation in browse mode), Insert/CapsLock combinations
// and Ctrl+Alt (VoiceOver's Ctrl+Option); Alt+Shift with a letter is the
// combination browsers leave to pages. Keys are matched by position
// (`event.code`), and the letters chosen sit at the same place on AZERTY
// and QWERTY, so the label is right on both; on a Mac, Alt is Option.
// The learner can turn them off.

import type { MessageKey } from '../i18n'

export type ShortcutAction = 'hand' | 'mic' | 'give_back'

export interface Shortcut {
  action: ShortcutAction
  code: string
  letter: string
  label: MessageKey
}

export const SHORTCUTS: readonly Shortcut[] = [
  { action: 'hand', code: 'KeyH', letter: 'H', label: 'shortcuts.hand' },
  { action: 'mic', code: 'KeyV', letter: 'V', label: 'shortcuts.mic' },
  { action: 'give_back', code: 'KeyF', letter: 'F', label: 'shortcuts.give_back' },
]

export interface KeyPress {
  code: string
  altKey: boolean
  shiftKey: boolean
  ctrlKey: boolean
  metaKey: boolean
  repeat: boolean
  /** The key went to a field the learner types in. */
  inField: boolean
}

export function shortcutFor(key: KeyPress): ShortcutAction | null {
  if (!key.altKey || !key.shiftKey || key.ctrlKey || key.metaKey || key.repeat || key.inField) {
    return null
  }
  return SHORTCUTS.find((s) => s.code === key.code)?.action ?? null
}
