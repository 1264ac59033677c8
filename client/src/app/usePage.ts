// What every console page does on arrival: the document's title names it
// (in the language of the moment), and the focus goes to its heading when
// the page was reached from another (a screen reader then starts reading
// there), or to `first` on the first page loaded.

import { useEffect, useRef, type RefObject } from 'react'
import { useTranslation } from 'react-i18next'

import { hasNavigated } from './navigate'

/** Page changes after the first page of the visit (sign-in, sign-out, links). */
let arrived = false

export function usePage<H extends HTMLElement>(title: string, first?: RefObject<HTMLElement | null>): RefObject<H | null> {
  const { i18n } = useTranslation()
  const heading = useRef<H>(null)

  useEffect(() => {
    document.title = title
    // i18n/index.ts sets the generic title when the language changes: ours comes after.
  }, [title, i18n.language])

  useEffect(() => {
    if (arrived || hasNavigated()) heading.current?.focus()
    else first?.current?.focus()
    arrived = true
    // Once per page shown.
  }, [])

  return heading
}
