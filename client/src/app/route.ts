// The client's pages, from the address: `/` and `/join/{code}` (the
// session's join_url) join a class, `/check` tests the network.

export type Route =
  | { page: 'join'; code: string }
  | { page: 'check' }
  | { page: 'not_found' }

export function parseRoute(pathname: string): Route {
  const path = pathname.replace(/\/+$/, '') || '/'
  if (path === '/' || path === '/join') return { page: 'join', code: '' }
  if (path === '/check') return { page: 'check' }
  const join = /^\/join\/([^/]+)$/.exec(path)
  if (join?.[1]) {
    try {
      return { page: 'join', code: decodeURIComponent(join[1]) }
    } catch {
      return { page: 'join', code: '' }
    }
  }
  return { page: 'not_found' }
}
