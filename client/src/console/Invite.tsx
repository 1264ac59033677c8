// How learners come in: the six-digit code, large, in two groups to read
// aloud ("482 913"); the join link with a copy button; its QR code; and a
// new code when the old one went too far (it stops working at once).

import { useState } from 'react'
import { useTranslation } from 'react-i18next'

import { useCues } from '../a11y/AnnouncerProvider'
import type { Session } from './api'
import { useConsole } from './context'
import { consoleMessage, isExpiry, type Said } from './errors'
import { formatJoinCode } from './invite'
import { QrCode } from './QrCode'

interface Props {
  session: Session
  onSession: (session: Session) => void
}

export function Invite({ session, onSession }: Props) {
  const { t } = useTranslation()
  const cue = useCues()
  const { api } = useConsole()
  const [copied, setCopied] = useState(false)
  const [busy, setBusy] = useState(false)
  const [failure, setFailure] = useState<Said | null>(null)

  async function copy() {
    try {
      if (!navigator.clipboard) throw new Error('no clipboard')
      await navigator.clipboard.writeText(session.join_url)
      setCopied(true)
      cue([{ key: 'console.invite.copied', politeness: 'polite', topic: 'copy' }])
    } catch {
      setCopied(false)
      cue([{ key: 'console.invite.copy_failed', politeness: 'assertive', topic: 'copy' }])
    }
  }

  async function rotate() {
    if (busy) return
    setBusy(true)
    setFailure(null)
    try {
      const next = await api.updateSession(session.id, { rotate_join_code: true })
      onSession(next)
      setCopied(false)
      cue([{ key: 'console.invite.rotated', values: { code: formatJoinCode(next.join_code) }, politeness: 'polite', topic: 'code' }])
    } catch (thrown) {
      if (!isExpiry(thrown)) {
        const said = consoleMessage(thrown)
        setFailure(said)
        cue([{ key: said.key, values: said.values, politeness: 'assertive', topic: 'code' }])
      }
    } finally {
      setBusy(false)
    }
  }

  return (
    <section className="panel invite" aria-labelledby="invite-title">
      <h2 id="invite-title">{t('console.invite.title')}</h2>
      <p id="invite-code-label" className="code-label">
        {t('console.invite.code_label')}
      </p>
      <div role="group" aria-labelledby="invite-code-label" className="join-code">
        {formatJoinCode(session.join_code)}
      </div>
      <button type="button" aria-disabled={busy || undefined} onClick={rotate}>
        {t('console.invite.rotate')}
      </button>
      {failure && <p className="warning">{t(failure.key, failure.values)}</p>}
      <p className="code-label">{t('console.invite.link')}</p>
      <p className="join-link">{session.join_url}</p>
      <div className="actions">
        <button type="button" onClick={copy}>
          {t('console.invite.copy')}
        </button>
        {copied && <p className="copied">{t('console.invite.copied')}</p>}
      </div>
      <QrCode url={session.join_url} />
    </section>
  )
}
