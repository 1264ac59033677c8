// The console's keyboard shortcuts, so that the two commands a teacher
// needs at once are one key away: Alt+Shift+N gives the floor to the next
// in line, Alt+Shift+R takes it back from everyone (matched as every
// page's are: a11y/shortcuts.ts; N and R sit at the same place on AZERTY).

import { shortcutIn, type KeyPress, type Shortcut } from '../a11y/shortcuts'

export type ConsoleAction = 'grant_next' | 'revoke_all'

export const CONSOLE_SHORTCUTS: readonly Shortcut<ConsoleAction>[] = [
  { action: 'grant_next', code: 'KeyN', letter: 'N', label: 'console.hands.grant_next' },
  { action: 'revoke_all', code: 'KeyR', letter: 'R', label: 'console.hands.revoke_all' },
]

/** The same keys as `aria-keyshortcuts` wants them. */
export const KEYS: Record<ConsoleAction, string> = { grant_next: 'Alt+Shift+N', revoke_all: 'Alt+Shift+R' }

export function consoleShortcutFor(key: KeyPress): ConsoleAction | null {
  return shortcutIn(CONSOLE_SHORTCUTS, key)
}
