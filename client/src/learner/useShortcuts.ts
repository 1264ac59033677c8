// Listens for the learner's keyboard shortcuts (shortcuts.ts) while they are on.

import { useKeyShortcuts } from '../a11y/useShortcuts'
import { SHORTCUTS, type ShortcutAction } from './shortcuts'

export function useShortcuts(enabled: boolean, run: (action: ShortcutAction) => void): void {
  useKeyShortcuts(SHORTCUTS, enabled, run)
}
