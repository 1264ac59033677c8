// The new-class form (teachers only): title, floor, most learners. Checked
// here first (classForm.ts); a problem, ours or the server's, is a sentence
// next to its field, announced, with the focus on that field. A class
// created opens its page.

import { useRef, useState, type FormEvent, type RefObject } from 'react'
import { useTranslation } from 'react-i18next'

import { useCues } from '../a11y/AnnouncerProvider'
import { navigate } from '../app/navigate'
import { checkClass, FIELD_KEYS, isProblem, LIMITS, serverField, type ClassField, type ClassInput, type Problem } from './classForm'
import { useConsole } from './context'
import { asApiError, consoleMessage, isExpiry, type Said } from './errors'
import { FloorFields } from './FloorFields'

const EMPTY: ClassInput = { title: '', mode: 'moderated', maxSpeakers: '1', timeLimit: '', maxLearners: '60' }

export function CreateClassForm() {
  const { t } = useTranslation()
  const cue = useCues()
  const { api } = useConsole()
  const [input, setInput] = useState<ClassInput>(EMPTY)
  const [problem, setProblem] = useState<Problem<ClassField> | null>(null)
  const [failure, setFailure] = useState<Said | null>(null)
  const [busy, setBusy] = useState(false)
  const refs: Record<ClassField, RefObject<HTMLInputElement | null>> = {
    title: useRef<HTMLInputElement>(null),
    max_speakers: useRef<HTMLInputElement>(null),
    speaking_time_limit_s: useRef<HTMLInputElement>(null),
    max_learners: useRef<HTMLInputElement>(null),
  }

  function fail(p: Problem<ClassField>) {
    setProblem(p)
    setFailure(null)
    cue([{ key: p.key, politeness: 'assertive', topic: 'create' }])
    refs[p.field].current?.focus()
  }

  async function submit(event: FormEvent) {
    event.preventDefault()
    if (busy) return
    const checked = checkClass(input)
    if (isProblem(checked)) {
      fail(checked)
      return
    }
    setBusy(true)
    try {
      const created = await api.createSession(checked)
      cue([{ key: 'console.create.created', values: { title: created.title }, politeness: 'polite', topic: 'create' }])
      navigate(`/console/sessions/${encodeURIComponent(created.id)}`)
    } catch (thrown) {
      setBusy(false)
      if (isExpiry(thrown)) return
      const field = serverField(asApiError(thrown))
      if (field) {
        fail({ field, key: FIELD_KEYS[field] })
        return
      }
      const said = consoleMessage(thrown)
      setProblem(null)
      setFailure(said)
      cue([{ key: said.key, values: said.values, politeness: 'assertive', topic: 'create' }])
    }
  }

  const wrong = (field: ClassField) => problem?.field === field
  const errorOf = (field: ClassField) =>
    wrong(field) && problem ? (
      <p id={`new-${field}-error`} className="field-error">
        {t(problem.key)}
      </p>
    ) : null

  return (
    <section className="panel" aria-labelledby="new-class-title">
      <h2 id="new-class-title">{t('console.create.title')}</h2>
      <form className="join-form" onSubmit={submit} noValidate>
        <div className="field">
          <label htmlFor="new-title">{t('console.create.field_title')}</label>
          <input
            id="new-title"
            ref={refs.title}
            maxLength={LIMITS.titleChars}
            autoComplete="off"
            value={input.title}
            onChange={(e) => setInput({ ...input, title: e.target.value })}
            aria-invalid={wrong('title')}
            aria-describedby={wrong('title') ? 'new-title-error' : undefined}
          />
          {errorOf('title')}
        </div>
        <FloorFields id="new-floor" value={input} onChange={(floor) => setInput({ ...input, ...floor })} problem={problem} refs={refs} />
        <div className="field">
          <label htmlFor="new-max-learners">{t('console.create.field_max_learners')}</label>
          <p id="new-max-learners-hint" className="hint">
            {t('console.create.field_max_learners_hint')}
          </p>
          <input
            id="new-max-learners"
            ref={refs.max_learners}
            type="number"
            inputMode="numeric"
            min={1}
            max={LIMITS.maxLearners}
            autoComplete="off"
            value={input.maxLearners}
            onChange={(e) => setInput({ ...input, maxLearners: e.target.value })}
            aria-invalid={wrong('max_learners')}
            aria-describedby={wrong('max_learners') ? 'new-max-learners-hint new-max_learners-error' : 'new-max-learners-hint'}
          />
          {errorOf('max_learners')}
        </div>
        {failure && <p className="warning">{t(failure.key, failure.values)}</p>}
        <button type="submit" className="primary" aria-disabled={busy || undefined}>
          {busy ? t('console.create.creating') : t('console.create.submit')}
        </button>
      </form>
    </section>
  )
}
