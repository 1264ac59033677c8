// The class's status in words and what can be done to it: start, end
// (after a question: everyone leaves and it cannot start again), lock or
// unlock joining. When the button under the focus goes (Start once
// started, all of them once ended), the focus goes to what replaced it.

import { useRef, useState, type RefObject } from 'react'
import { useTranslation } from 'react-i18next'

import { ConfirmDialog } from '../a11y/ConfirmDialog'
import { useCues } from '../a11y/AnnouncerProvider'
import { focusLost } from '../a11y/useFocusRescue'
import type { Session } from './api'
import { useConsole } from './context'
import { consoleMessage, isExpiry, type Said } from './errors'

interface Props {
  session: Session
  onSession: (session: Session) => void
  heading: RefObject<HTMLHeadingElement | null>
}

export function ClassControls({ session, onSession, heading }: Props) {
  const { t } = useTranslation()
  const cue = useCues()
  const { api } = useConsole()
  const [busy, setBusy] = useState(false)
  const [failure, setFailure] = useState<Said | null>(null)
  const [asking, setAsking] = useState(false)
  const endButton = useRef<HTMLButtonElement>(null)

  async function run(call: () => Promise<Session>, after?: (s: Session) => void) {
    if (busy) return
    setBusy(true)
    setFailure(null)
    try {
      const next = await call()
      onSession(next)
      after?.(next)
    } catch (thrown) {
      if (!isExpiry(thrown)) {
        const said = consoleMessage(thrown)
        setFailure(said)
        cue([{ key: said.key, values: said.values, politeness: 'assertive', topic: 'class' }])
      }
    } finally {
      setBusy(false)
    }
  }

  const start = () =>
    run(
      () => api.start(session.id),
      // "Start class" is gone: "End class" stands where it was.
      () => requestAnimationFrame(() => focusLost() && endButton.current?.focus()),
    )
  const end = () => run(() => api.end(session.id), () => requestAnimationFrame(() => focusLost() && heading.current?.focus()))
  const lock = () =>
    run(
      () => api.updateSession(session.id, { locked: !session.locked }),
      (s) => cue([{ key: s.locked ? 'console.class.locked_said' : 'console.class.unlocked_said', politeness: 'polite', topic: 'lock' }]),
    )

  const over = session.status === 'ended'
  return (
    <div className="class-controls">
      <p className={`class-status status-${session.status}`}>{t(`console.class.status_${session.status}`)}</p>
      {!over && (
        <div className="actions">
          {session.status === 'scheduled' && (
            <button type="button" className="primary" aria-disabled={busy || undefined} onClick={start}>
              {t('console.class.start')}
            </button>
          )}
          {/* While its question is open the page behind is inert; hidden from the
              accessibility tree too, this button leaves "End class" naming one
              control, the dialog's, also for tools that do not follow the modal. */}
          <button
            ref={endButton}
            type="button"
            aria-disabled={busy || undefined}
            aria-hidden={asking || undefined}
            onClick={() => !busy && setAsking(true)}
          >
            {t('console.class.end')}
          </button>
          <button type="button" aria-disabled={busy || undefined} onClick={lock} aria-describedby="class-lock-state">
            {session.locked ? t('console.class.unlock') : t('console.class.lock')}
          </button>
        </div>
      )}
      {!over && (
        <p id="class-lock-state" className="hint">
          {session.locked ? t('console.class.locked') : t('console.class.unlocked')}
        </p>
      )}
      {failure && <p className="warning">{t(failure.key, failure.values)}</p>}
      <ConfirmDialog
        open={asking}
        title={t('console.class.end_title')}
        text={t('console.class.end_text')}
        confirmLabel={t('console.class.end_confirm')}
        onConfirm={() => void end()}
        onClose={() => setAsking(false)}
        fallback={heading}
      />
    </div>
  )
}
