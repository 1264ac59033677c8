// The classes: a teacher's own, or every class for an admin, each a link
// to its page with its status; and, for a teacher, the new-class form.

import { useEffect, useState } from 'react'
import { useTranslation } from 'react-i18next'

import { Link } from '../app/Link'
import { usePage } from '../app/usePage'
import type { Session } from './api'
import { CreateClassForm } from './CreateClassForm'
import { useConsole } from './context'
import { consoleMessage, isExpiry, type Said } from './errors'
import { formatJoinCode } from './invite'

export function ClassList() {
  const { t, i18n } = useTranslation()
  const { api, account } = useConsole()
  const admin = account.role === 'admin'
  const heading = usePage<HTMLHeadingElement>(admin ? t('console.list.page_title_all') : t('console.list.page_title_teacher'))
  const [sessions, setSessions] = useState<Session[] | null>(null)
  const [failure, setFailure] = useState<Said | null>(null)

  useEffect(() => {
    let current = true
    api.sessions().then(
      (list) => current && setSessions(list.sessions),
      (error: unknown) => current && !isExpiry(error) && setFailure(consoleMessage(error)),
    )
    return () => {
      current = false
    }
  }, [api])

  const date = (iso: string) => new Intl.DateTimeFormat(i18n.language, { dateStyle: 'long' }).format(new Date(iso))

  return (
    <>
      <h1 ref={heading} tabIndex={-1}>
        {admin ? t('console.list.title_all') : t('console.list.title_teacher')}
      </h1>
      {failure && <p className="warning">{t(failure.key, failure.values)}</p>}
      {sessions === null && !failure && <p>{t('console.list.loading')}</p>}
      {sessions !== null && sessions.length === 0 && <p>{t('console.list.none')}</p>}
      {sessions !== null && sessions.length > 0 && (
        <ul className="class-list">
          {sessions.map((s) => (
            <li key={s.id}>
              <Link href={`/console/sessions/${encodeURIComponent(s.id)}`} className="class-link">
                {s.title}
              </Link>
              <span className={`status status-${s.status}`}>{t(`console.class.status_${s.status}`)}</span>
              {s.status !== 'ended' && (
                <span className="hint">{t('console.list.code', { code: formatJoinCode(s.join_code) })}</span>
              )}
              <span className="hint">{t('console.list.created_on', { date: date(s.created_at) })}</span>
            </li>
          ))}
        </ul>
      )}
      {!admin && <CreateClassForm />}
    </>
  )
}
