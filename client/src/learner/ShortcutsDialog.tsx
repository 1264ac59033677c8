// The learner's keyboard shortcuts (shortcuts.ts) in the dialog every page
// shares (a11y/ShortcutsDialog.tsx), with the switch to turn them off.

import { ShortcutsDialog as Dialog } from '../a11y/ShortcutsDialog'
import { SHORTCUTS } from './shortcuts'

interface Props {
  enabled: boolean
  onEnabledChange: (enabled: boolean) => void
}

export function ShortcutsDialog({ enabled, onEnabledChange }: Props) {
  return <Dialog shortcuts={SHORTCUTS} intro="shortcuts.intro" enabled={enabled} onEnabledChange={onEnabledChange} />
}
