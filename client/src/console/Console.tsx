// The teacher's console: signed in or not (GET /v1/console/session on
// arrival), the sign-in page, then the page the address names: the list of
// classes, or one class (loaded only when opened, with LiveKit and the QR
// code, so the sign-in page stays small). A 401 from any call while signed
// in means the sign-in expired: back to the sign-in page, and said so.

import { Suspense, lazy, useCallback, useEffect, useMemo, useRef, useState } from 'react'
import { useTranslation } from 'react-i18next'

import { useCues } from '../a11y/AnnouncerProvider'
import { Layout } from '../app/Layout'
import { navigate } from '../app/navigate'
import type { ConsoleRoute } from '../app/route'
import { consoleApi, type Account } from './api'
import { ClassList } from './ClassList'
import { ConsoleContext } from './context'
import { consoleMessage, guardExpiry, isExpiry, type Said } from './errors'
import { SignIn } from './SignIn'

const loadClassPage = () => import('./ClassPage')
const ClassPage = lazy(() => loadClassPage().then((m) => ({ default: m.ClassPage })))

type Auth =
  | { kind: 'checking' }
  | { kind: 'signed_out'; notice: Said | null }
  | { kind: 'signed_in'; account: Account }

export function Console({ route }: { route: ConsoleRoute }) {
  const { t } = useTranslation()
  const cue = useCues()
  const [auth, setAuth] = useState<Auth>({ kind: 'checking' })
  const signedIn = useRef(false)
  const [busy, setBusy] = useState(false)

  const enter = useCallback((account: Account) => {
    signedIn.current = true
    setAuth({ kind: 'signed_in', account })
  }, [])

  const leave = useCallback((notice: Said | null) => {
    signedIn.current = false
    setAuth({ kind: 'signed_out', notice })
  }, [])

  useEffect(() => {
    let current = true
    consoleApi.whoami().then(
      (signed) => current && enter(signed.account),
      (error: unknown) => current && leave(isExpiry(error) ? null : consoleMessage(error)),
    )
    return () => {
      current = false
    }
  }, [enter, leave])

  const expired = useCallback(() => {
    if (!signedIn.current) return
    leave({ key: 'console.errors.expired' })
    cue([{ key: 'console.errors.expired', politeness: 'assertive', topic: 'signin' }])
  }, [leave, cue])

  const api = useMemo(() => guardExpiry(consoleApi, expired, ['signIn', 'whoami', 'signOut']), [expired])
  const context = useMemo(
    () => (auth.kind === 'signed_in' ? { api, account: auth.account } : null),
    [api, auth],
  )

  useEffect(() => {
    if (auth.kind === 'signed_in' && route.page === 'console_session') void loadClassPage()
  }, [auth.kind, route.page])

  async function signOut() {
    if (busy) return
    setBusy(true)
    try {
      await consoleApi.signOut()
    } catch (error) {
      // Already signed out (expired) is signed out; anything else is said.
      if (!isExpiry(error)) {
        setBusy(false)
        const said = consoleMessage(error)
        cue([{ key: said.key, values: said.values, politeness: 'assertive', topic: 'signin' }])
        return
      }
    }
    setBusy(false)
    leave({ key: 'console.sign_in.signed_out' })
    cue([{ key: 'console.sign_in.signed_out', politeness: 'polite', topic: 'signin' }])
    navigate('/console')
  }

  const actions =
    auth.kind === 'signed_in' ? (
      <>
        <p className="account">{t('console.account', { name: auth.account.name })}</p>
        <button type="button" aria-disabled={busy || undefined} onClick={signOut}>
          {t('console.sign_out')}
        </button>
      </>
    ) : null

  return (
    <Layout actions={actions}>
      {auth.kind === 'checking' && (
        <>
          <h1>{t('console.sign_in.title')}</h1>
          <p>{t('console.checking')}</p>
        </>
      )}
      {auth.kind === 'signed_out' && <SignIn notice={auth.notice} onSignedIn={enter} />}
      {context && (
        <ConsoleContext.Provider value={context}>
          {route.page === 'console' ? (
            <ClassList />
          ) : (
            <Suspense fallback={<p>{t('console.class.loading')}</p>}>
              <ClassPage key={route.id} id={route.id} />
            </Suspense>
          )}
        </ConsoleContext.Provider>
      )}
    </Layout>
  )
}
