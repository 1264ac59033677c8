// The join form: the code (filled in from /join/{code}), a name, and, for
// a group in front of one screen, how many they are. Enter joins. A
// problem is said in a sentence next to its field, announced, and the
// focus goes to that field.

import { useEffect, useRef, useState, type FormEvent } from 'react'
import { useTranslation } from 'react-i18next'

import { useCues } from '../a11y/AnnouncerProvider'
import { ApiError, type JoinField, type JoinRequest } from '../api/client'
import type { MessageKey } from '../i18n'
import { checkJoin, isProblem } from './join'

export interface FormError {
  field: JoinField
  key: MessageKey
  values?: Record<string, number>
}

interface Props {
  initialCode: string
  initialError: FormError | null
  onJoin: (request: JoinRequest) => Promise<void>
}

export function JoinForm({ initialCode, initialError, onJoin }: Props) {
  const { t } = useTranslation()
  const cue = useCues()
  const [code, setCode] = useState(initialCode)
  const [name, setName] = useState('')
  const [classroom, setClassroom] = useState(false)
  const [headcount, setHeadcount] = useState('')
  const [error, setError] = useState<FormError | null>(initialError)
  const [busy, setBusy] = useState(false)
  const codeField = useRef<HTMLInputElement>(null)
  const nameField = useRef<HTMLInputElement>(null)
  const headcountField = useRef<HTMLInputElement>(null)
  const fields = { code: codeField, name: nameField, headcount: headcountField }

  useEffect(() => {
    // The first thing to fill in: the field of a problem, else the name
    // when the link brought the code.
    const first = initialError?.field ?? (initialCode ? 'name' : 'code')
    fields[first].current?.focus()
    // Once, on arrival: later focus moves follow the learner's actions.
  }, [])

  function fail(problem: FormError) {
    setError(problem)
    cue([{ key: problem.key, values: problem.values, politeness: 'assertive', topic: 'join' }])
    fields[problem.field].current?.focus()
  }

  async function submit(event: FormEvent) {
    event.preventDefault()
    if (busy) return
    const checked = checkJoin({ code, name, classroom, headcount })
    if (isProblem(checked)) {
      fail(checked)
      return
    }
    setBusy(true)
    try {
      await onJoin(checked)
    } catch (thrown) {
      const failure = thrown instanceof ApiError ? thrown : new ApiError(0, 'network')
      setBusy(false)
      fail({ field: failure.field() ?? 'code', key: failure.messageKey(), values: failure.values() })
    }
  }

  const problem = (field: JoinField) =>
    error?.field === field ? (
      <p id={`join-${field}-error`} className="field-error">
        {t(error.key, error.values)}
      </p>
    ) : null
  const described = (field: JoinField, hint?: string) =>
    [hint, error?.field === field ? `join-${field}-error` : undefined].filter(Boolean).join(' ') || undefined

  return (
    <>
      <h1>{t('join.title')}</h1>
      <form className="join-form" onSubmit={submit} noValidate>
        <div className="field">
          <label htmlFor="join-code">{t('join.code')}</label>
          <p id="join-code-hint" className="hint">
            {t('join.code_hint')}
          </p>
          <input
            id="join-code"
            ref={codeField}
            value={code}
            onChange={(e) => setCode(e.target.value)}
            inputMode="numeric"
            autoComplete="off"
            aria-invalid={error?.field === 'code'}
            aria-describedby={described('code', 'join-code-hint')}
          />
          {problem('code')}
        </div>
        <div className="field field-check">
          <input
            id="join-classroom"
            type="checkbox"
            checked={classroom}
            onChange={(e) => setClassroom(e.target.checked)}
          />
          <label htmlFor="join-classroom">{t('join.classroom')}</label>
        </div>
        <div className="field">
          <label htmlFor="join-name">{classroom ? t('join.classroom_name') : t('join.name')}</label>
          <input
            id="join-name"
            ref={nameField}
            value={name}
            onChange={(e) => setName(e.target.value)}
            autoComplete={classroom ? 'off' : 'nickname'}
            aria-invalid={error?.field === 'name'}
            aria-describedby={described('name')}
          />
          {problem('name')}
        </div>
        {classroom && (
          <div className="field">
            <label htmlFor="join-headcount">{t('join.headcount')}</label>
            <input
              id="join-headcount"
              ref={headcountField}
              value={headcount}
              onChange={(e) => setHeadcount(e.target.value)}
              inputMode="numeric"
              autoComplete="off"
              aria-invalid={error?.field === 'headcount'}
              aria-describedby={described('headcount')}
            />
            {problem('headcount')}
          </div>
        )}
        <button type="submit" className="primary" aria-disabled={busy}>
          {busy ? t('join.joining') : t('join.submit')}
        </button>
      </form>
      <p>
        <a href="/check">{t('join.check_link')}</a>
      </p>
    </>
  )
}
