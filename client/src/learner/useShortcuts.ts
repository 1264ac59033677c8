// Listens for the keyboard shortcuts (shortcuts.ts) while they are on.

import { useEffect, useRef } from 'react'

import { shortcutFor, type ShortcutAction } from './shortcuts'

function inField(target: EventTarget | null): boolean {
  if (!(target instanceof HTMLElement)) return false
  if (target.isContentEditable) return true
  return target instanceof HTMLInputElement || target instanceof HTMLTextAreaElement || target instanceof HTMLSelectElement
}

export function useShortcuts(enabled: boolean, run: (action: ShortcutAction) => void): void {
  const latest = useRef(run)
  useEffect(() => {
    latest.current = run
  })
  useEffect(() => {
    if (!enabled) return
    const onKey = (event: KeyboardEvent) => {
      const action = shortcutFor({
        code: event.code,
        altKey: event.altKey,
        shiftKey: event.shiftKey,
        ctrlKey: event.ctrlKey,
        metaKey: event.metaKey,
        repeat: event.repeat,
        inField: inField(event.target),
      })
      if (action === null) return
      event.preventDefault()
      latest.current(action)
    }
    window.addEventListener('keydown', onKey)
    return () => window.removeEventListener('keydown', onKey)
  }, [enabled])
}
