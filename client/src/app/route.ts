// The client's pages, from the address: `/` and `/join/{code}` (the
// session's join_url) join a class, `/check` tests the network, `/console`
// is the teacher's console (signing in, then the classes) and
// `/console/sessions/{id}` one class in it.

export type Route =
  | { page: 'join'; code: string }
  | { page: 'check' }
  | { page: 'console' }
  | { page: 'console_session'; id: string }
  | { page: 'not_found' }

export type ConsoleRoute = Extract<Route, { page: 'console' | 'console_session' }>

function decoded(segment: string): string | null {
  try {
    return decodeURIComponent(segment)
  } catch {
    return null
  }
}

export function parseRoute(pathname: string): Route {
  const path = pathname.replace(/\/+$/, '') || '/'
  if (path === '/' || path === '/join') return { page: 'join', code: '' }
  if (path === '/check') return { page: 'check' }
  if (path === '/console') return { page: 'console' }
  const join = /^\/join\/([^/]+)$/.exec(path)
  if (join?.[1]) return { page: 'join', code: decoded(join[1]) ?? '' }
  const session = /^\/console\/sessions\/([^/]+)$/.exec(path)
  if (session?.[1]) {
    const id = decoded(session[1])
    return id ? { page: 'console_session', id } : { page: 'not_found' }
  }
  return { page: 'not_found' }
}

/**
 * The key of a join link, from its fragment (`/join/482913#k=…`): the
 * server knows by it that the code was not guessed. The fragment is never
 * sent in a request for the page, so it is in no access log.
 */
export function linkKey(hash: string): string | undefined {
  const key = new URLSearchParams(hash.replace(/^#/, '')).get('k')
  return key && /^[A-Za-z0-9_-]{1,64}$/.test(key) ? key : undefined
}

export function isConsole(route: Route): route is ConsoleRoute {
  return route.page === 'console' || route.page === 'console_session'
}

/** The address of a console page. */
export function consolePath(route: ConsoleRoute): string {
  return route.page === 'console' ? '/console' : `/console/sessions/${encodeURIComponent(route.id)}`
}
