// Typing a question, for learners who cannot or would rather not speak: a
// labelled field (line breaks become spaces; the characters left are
// written and read with it), "Send my question", the refusal next to the
// field and said; then the learner's questions with where each stands. The
// form is there while a question may be asked (the floor open, none
// waiting, not speaking); a waiting one is withdrawn from the floor panel,
// where its place in line is. The text is shown as text, never as HTML.

import { useId, useState, type FormEvent } from 'react'
import { useTranslation } from 'react-i18next'

import { useCues } from '../a11y/AnnouncerProvider'
import { ApiError, type Question } from '../api/client'
import type { MessageKey } from '../i18n'
import { MAX_QUESTION_CHARS, charactersLeft, prepareQuestion, statusKey } from './questions'

interface Props {
  questions: Question[]
  canAsk: boolean
  onAsk: (text: string) => Promise<Question>
}

export function QuestionForm({ questions, canAsk, onAsk }: Props) {
  const { t } = useTranslation()
  const cue = useCues()
  const id = useId()
  const [typed, setTyped] = useState('')
  const [error, setError] = useState<{ key: MessageKey; values: Record<string, number> } | null>(null)
  const [sending, setSending] = useState(false)

  async function send(event: FormEvent) {
    event.preventDefault()
    if (sending) return
    const text = prepareQuestion(typed)
    if (text === '') {
      setError({ key: 'questions.errors.empty', values: {} })
      cue([{ key: 'questions.errors.empty', politeness: 'assertive', topic: 'question' }])
      return
    }
    setSending(true)
    try {
      await onAsk(text)
      setTyped('')
      setError(null)
      // Its place in line is said by the floor (live/floor.ts).
    } catch (thrown) {
      const failure = thrown instanceof ApiError ? thrown : new ApiError(0, 'network')
      const said = { key: failure.messageKey(), values: failure.values() }
      setError(said)
      cue([{ key: said.key, values: said.values, politeness: 'assertive', topic: 'question' }])
    } finally {
      setSending(false)
    }
  }

  if (!canAsk && questions.length === 0) return null
  const left = charactersLeft(typed)
  return (
    <section className="panel questions" aria-labelledby={`${id}-title`}>
      <h2 id={`${id}-title`}>{t('questions.title')}</h2>
      {canAsk && (
        <form onSubmit={(e) => void send(e)} noValidate>
          <label htmlFor={`${id}-text`}>{t('questions.label')}</label>
          <textarea
            id={`${id}-text`}
            value={typed}
            rows={3}
            maxLength={MAX_QUESTION_CHARS}
            aria-invalid={error !== null}
            aria-describedby={`${id}-left${error ? ` ${id}-error` : ''}`}
            onChange={(e) => setTyped(e.target.value)}
          />
          <p id={`${id}-left`} className="hint">
            {t('questions.left', { count: left })}
          </p>
          {error && (
            <p id={`${id}-error`} className="field-error">
              {t(error.key, error.values)}
            </p>
          )}
          <button type="submit" aria-disabled={sending}>
            {t('questions.send')}
          </button>
        </form>
      )}
      {questions.length > 0 && (
        <>
          <h3>{t('questions.mine')}</h3>
          <ul className="my-questions">
            {questions.map((q) => (
              <li key={q.id}>
                <span className="question-text">{q.text}</span> — {t(statusKey(q))}
              </li>
            ))}
          </ul>
        </>
      )}
    </section>
  )
}
