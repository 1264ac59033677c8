// The console's sign-in: the API key, typed or pasted once and sent once
// in the body of POST /v1/console/session, which answers with an HttpOnly
// cookie. The field is emptied as soon as the form is sent, and the key is
// never kept (no storage, no address, no log). A refusal is a sentence
// next to the field, announced, with the focus back on the field.

import { useRef, useState, type FormEvent } from 'react'
import { useTranslation } from 'react-i18next'

import { useCues } from '../a11y/AnnouncerProvider'
import { usePage } from '../app/usePage'
import { consoleApi, type Account } from './api'
import { consoleMessage, type Said } from './errors'

interface Props {
  /** Why the sign-in shows (expired, signed out, unreachable), if there is a reason. */
  notice: Said | null
  onSignedIn: (account: Account) => void
}

export function SignIn({ notice, onSignedIn }: Props) {
  const { t } = useTranslation()
  const cue = useCues()
  const field = useRef<HTMLInputElement>(null)
  const heading = usePage<HTMLHeadingElement>(t('console.sign_in.page_title'), field)
  const [key, setKey] = useState('')
  const [error, setError] = useState<Said | null>(null)
  const [busy, setBusy] = useState(false)

  function fail(said: Said) {
    setError(said)
    cue([{ key: said.key, values: said.values, politeness: 'assertive', topic: 'signin' }])
    field.current?.focus()
  }

  async function submit(event: FormEvent) {
    event.preventDefault()
    if (busy) return
    const typed = key.trim()
    // The key leaves the page's state at once, whatever the answer.
    setKey('')
    if (typed === '') {
      fail({ key: 'console.sign_in.empty' })
      return
    }
    setBusy(true)
    try {
      const signed = await consoleApi.signIn(typed)
      cue([{ key: 'console.sign_in.welcome', values: { name: signed.account.name }, politeness: 'polite', topic: 'signin' }])
      onSignedIn(signed.account)
    } catch (thrown) {
      setBusy(false)
      fail(consoleMessage(thrown))
    }
  }

  return (
    <>
      <h1 ref={heading} tabIndex={-1}>
        {t('console.sign_in.title')}
      </h1>
      {notice && <p className="notice">{t(notice.key, notice.values)}</p>}
      <p>{t('console.sign_in.intro')}</p>
      <form className="join-form" onSubmit={submit} noValidate>
        <div className="field">
          <label htmlFor="console-key">{t('console.sign_in.key')}</label>
          <p id="console-key-hint" className="hint">
            {t('console.sign_in.key_hint')}
          </p>
          <input
            id="console-key"
            ref={field}
            type="password"
            autoComplete="off"
            spellCheck={false}
            autoCapitalize="none"
            value={key}
            onChange={(e) => setKey(e.target.value)}
            aria-invalid={error !== null}
            aria-describedby={error ? 'console-key-hint console-key-error' : 'console-key-hint'}
          />
          {error && (
            <p id="console-key-error" className="field-error">
              {t(error.key, error.values)}
            </p>
          )}
        </div>
        <button type="submit" className="primary" aria-disabled={busy || undefined}>
          {busy ? t('console.sign_in.signing_in') : t('console.sign_in.submit')}
        </button>
      </form>
    </>
  )
}
