// Moving between the console's pages without reloading: the address
// changes with history.pushState, and every listener of `popstate` (the
// browser's Back and Forward, and ours) reads the new one. `useRoute`
// gives the page the address names, kept current.

import { useMemo, useSyncExternalStore } from 'react'

import { parseRoute, type Route } from './route'

let navigated = false

/** Shows the page at `path` (same origin), as a new history entry. */
export function navigate(path: string): void {
  navigated = true
  if (path !== window.location.pathname) window.history.pushState(null, '', path)
  window.dispatchEvent(new PopStateEvent('popstate'))
  window.scrollTo(0, 0)
}

/** Whether a page was reached by navigating in the page (not the first one loaded). */
export function hasNavigated(): boolean {
  return navigated
}

function subscribe(changed: () => void): () => void {
  const onPop = () => {
    navigated = true
    changed()
  }
  window.addEventListener('popstate', onPop)
  return () => window.removeEventListener('popstate', onPop)
}

export function useRoute(): Route {
  const path = useSyncExternalStore(subscribe, () => window.location.pathname)
  return useMemo(() => parseRoute(path), [path])
}
