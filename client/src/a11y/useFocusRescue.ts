// When a control under the focus disappears (a row removed, a button
// replaced), the browser drops the focus on the page itself, and a keyboard
// or screen-reader user is lost. While the focus was last inside
// `container`, `rescue` (run after every render) says so; by default the
// focus then goes to `fallback`.

import { useLayoutEffect, useRef, type FocusEvent, type RefObject } from 'react'

export interface FocusWatch {
  onFocus: () => void
  onBlur: (event: FocusEvent) => void
}

/** Whether the focus has fallen to the page (nothing, or the body). */
export function focusLost(): boolean {
  const active = document.activeElement
  return active === null || active === document.body
}

export function useFocusWatch(container: RefObject<HTMLElement | null>): { inside: RefObject<boolean>; watch: FocusWatch } {
  const inside = useRef(false)
  const watch: FocusWatch = {
    onFocus: () => {
      inside.current = true
    },
    onBlur: (event) => {
      const to = event.relatedTarget
      if (to instanceof Node && container.current?.contains(to)) return
      const from = event.target
      // Decided after the render: a control removed by it blurs towards
      // nothing and is still ours; one left by the person is not.
      setTimeout(() => {
        if (from.isConnected && !container.current?.contains(document.activeElement)) inside.current = false
      }, 0)
    },
  }
  return { inside, watch }
}

export function useFocusRescue(container: RefObject<HTMLElement | null>, fallback: RefObject<HTMLElement | null>): FocusWatch {
  const { inside, watch } = useFocusWatch(container)
  useLayoutEffect(() => {
    if (inside.current && focusLost()) fallback.current?.focus()
  })
  return watch
}
