// Keyboard shortcuts for any page: Alt+Shift with a letter. Screen readers
// take single letters (quick navigation in browse mode), Insert/CapsLock
// combinations and Ctrl+Alt (VoiceOver's Ctrl+Option); Alt+Shift with a
// letter is the combination browsers leave to pages. Keys are matched by
// position (`event.code`), and the letters chosen sit at the same place on
// AZERTY and QWERTY, so the label is right on both; on a Mac, Alt is
// Option. Each page lists its own (learner/shortcuts.ts, console/shortcuts.ts).

import type { MessageKey } from '../i18n'

export interface Shortcut<A extends string> {
  action: A
  code: string
  letter: string
  label: MessageKey
}

export interface KeyPress {
  code: string
  altKey: boolean
  shiftKey: boolean
  ctrlKey: boolean
  metaKey: boolean
  repeat: boolean
  /** The key went to a field the person types in. */
  inField: boolean
}

/** Letters at the same place on AZERTY and QWERTY (the only ones a shortcut may use). */
export const SAME_ON_AZERTY = new Set('ERTYUIOPSDFGHJKLXCVBN')

/** The action of `shortcuts` this key press asks for, or null. */
export function shortcutIn<A extends string>(shortcuts: readonly Shortcut<A>[], key: KeyPress): A | null {
  if (!key.altKey || !key.shiftKey || key.ctrlKey || key.metaKey || key.repeat || key.inField) {
    return null
  }
  return shortcuts.find((s) => s.code === key.code)?.action ?? null
}

/** Whether the event's target is somewhere one types: then letters are text, not commands. */
export function inField(target: EventTarget | null): boolean {
  if (!(target instanceof HTMLElement)) return false
  if (target.isContentEditable) return true
  return target instanceof HTMLInputElement || target instanceof HTMLTextAreaElement || target instanceof HTMLSelectElement
}

export function keyPressOf(event: KeyboardEvent): KeyPress {
  return {
    code: event.code,
    altKey: event.altKey,
    shiftKey: event.shiftKey,
    ctrlKey: event.ctrlKey,
    metaKey: event.metaKey,
    repeat: event.repeat,
    inField: inField(event.target),
  }
}
