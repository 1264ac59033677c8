// The learner's keyboard shortcuts: Alt+Shift with H, V and F (matched as
// every page's are: a11y/shortcuts.ts). The learner can turn them off.

import { shortcutIn, type KeyPress, type Shortcut } from '../a11y/shortcuts'

export type { KeyPress } from '../a11y/shortcuts'

export type ShortcutAction = 'hand' | 'mic' | 'give_back'

export const SHORTCUTS: readonly Shortcut<ShortcutAction>[] = [
  { action: 'hand', code: 'KeyH', letter: 'H', label: 'shortcuts.hand' },
  { action: 'mic', code: 'KeyV', letter: 'V', label: 'shortcuts.mic' },
  { action: 'give_back', code: 'KeyF', letter: 'F', label: 'shortcuts.give_back' },
]

export function shortcutFor(key: KeyPress): ShortcutAction | null {
  return shortcutIn(SHORTCUTS, key)
}
