// Listens for a page's keyboard shortcuts (shortcuts.ts) while they are on.

import { useEffect, useRef } from 'react'

import { keyPressOf, shortcutIn, type Shortcut } from './shortcuts'

export function useKeyShortcuts<A extends string>(
  shortcuts: readonly Shortcut<A>[],
  enabled: boolean,
  run: (action: A) => void,
): void {
  const latest = useRef(run)
  useEffect(() => {
    latest.current = run
  })
  useEffect(() => {
    if (!enabled) return
    const onKey = (event: KeyboardEvent) => {
      const action = shortcutIn(shortcuts, keyPressOf(event))
      if (action === null) return
      event.preventDefault()
      latest.current(action)
    }
    window.addEventListener('keydown', onKey)
    return () => window.removeEventListener('keydown', onKey)
  }, [shortcuts, enabled])
}
