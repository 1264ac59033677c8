// Quick polls, as the class's teacher runs them: a form to open one (a
// question and 2–6 answers, or the yes/no preset), the open poll's counts
// as a table kept current by the live updates (a classroom's answer with
// its people beside it), closing it with or without showing the results,
// and the earlier polls with theirs. Answers are anonymous: counts only.

import { useEffect, useId, useState, type FormEvent } from 'react'
import { useTranslation } from 'react-i18next'

import { useCues } from '../a11y/AnnouncerProvider'
import type { SessionStatus } from '../api/client'
import { withPoll, type Poll } from '../live/polls'
import { useConsole } from './context'
import { consoleMessage, isExpiry, type Said } from './errors'
import { MAX_CHOICES, MIN_CHOICES, addChoice, emptyDraft, removeChoice, setChoice, toRequest } from './pollForm'

interface Props {
  sessionId: string
  status: SessionStatus
  runsFloor: boolean
  /** The latest poll from the live updates. */
  incoming: Poll | null
}

export function PollsSection({ sessionId, status, runsFloor, incoming }: Props) {
  const { t } = useTranslation()
  const cue = useCues()
  const { api } = useConsole()
  const id = useId()
  const [polls, setPolls] = useState<Poll[]>([])
  const [draft, setDraft] = useState(emptyDraft)
  const [failure, setFailure] = useState<Said | null>(null)
  const [invalid, setInvalid] = useState(false)

  useEffect(() => {
    api.polls(sessionId).then(
      (answer) => setPolls((list) => answer.polls.reduce(withPoll, list)),
      () => {
        // The live updates bring the open one.
      },
    )
  }, [api, sessionId])
  useEffect(() => {
    if (incoming) setPolls((list) => withPoll(list, incoming))
  }, [incoming])

  async function run(call: () => Promise<Poll>, said: 'opened' | 'closed' | 'shown') {
    try {
      const poll = await call()
      setPolls((list) => withPoll(list, poll))
      setFailure(null)
      cue([{ key: `console.polls.said_${said}`, politeness: 'polite', topic: 'poll' }])
      return true
    } catch (thrown) {
      if (isExpiry(thrown)) return false
      const message = consoleMessage(thrown)
      setFailure(message)
      cue([{ key: message.key, values: message.values, politeness: 'assertive', topic: 'poll' }])
      return false
    }
  }

  async function open(event: FormEvent) {
    event.preventDefault()
    const request = toRequest(draft)
    setInvalid(request === null)
    if (!request) {
      cue([{ key: 'console.polls.invalid', politeness: 'assertive', topic: 'poll' }])
      return
    }
    if (await run(() => api.openPoll(sessionId, request), 'opened')) setDraft(emptyDraft())
  }

  const current = polls.find((p) => p.closed_at === null)
  const earlier = polls.filter((p) => p.closed_at !== null).reverse()

  return (
    <section className="panel polls" aria-labelledby={`${id}-title`}>
      <h2 id={`${id}-title`}>{t('console.polls.title')}</h2>
      <p className="hint">{t('console.polls.intro')}</p>
      {failure && <p className="warning">{t(failure.key, failure.values)}</p>}
      {current ? (
        <div className="poll-current">
          <h3>{t('console.polls.current', { question: current.question })}</h3>
          <Counts poll={current} caption={t('console.polls.counts_caption')} />
          {runsFloor && (
            <div className="actions">
              <button type="button" onClick={() => void run(() => api.closePoll(sessionId, current.id, false), 'closed')}>
                {t('console.polls.close')}
              </button>
              <button type="button" onClick={() => void run(() => api.closePoll(sessionId, current.id, true), 'shown')}>
                {t('console.polls.close_show')}
              </button>
            </div>
          )}
        </div>
      ) : (
        runsFloor &&
        status === 'live' && (
          <form className="poll-form" onSubmit={(e) => void open(e)} noValidate>
            <label htmlFor={`${id}-question`}>{t('console.polls.question')}</label>
            <input
              id={`${id}-question`}
              value={draft.question}
              maxLength={200}
              aria-invalid={invalid && draft.question.trim() === ''}
              aria-describedby={invalid ? `${id}-invalid` : undefined}
              onChange={(e) => setDraft({ ...draft, question: e.target.value })}
            />
            <fieldset>
              <legend>{t('console.polls.choices')}</legend>
              {draft.choices.map((text, i) => (
                <div key={i} className="poll-choice-row">
                  <label htmlFor={`${id}-choice-${i}`}>{t('console.polls.choice', { n: i + 1 })}</label>
                  <input
                    id={`${id}-choice-${i}`}
                    value={text}
                    maxLength={100}
                    onChange={(e) => setDraft(setChoice(draft, i, e.target.value))}
                  />
                  {draft.choices.length > MIN_CHOICES && (
                    <button type="button" onClick={() => setDraft(removeChoice(draft, i))}>
                      {t('console.polls.remove_choice', { n: i + 1 })}
                    </button>
                  )}
                </div>
              ))}
              <div className="actions">
                {draft.choices.length < MAX_CHOICES && (
                  <button type="button" onClick={() => setDraft(addChoice(draft))}>
                    {t('console.polls.add_choice')}
                  </button>
                )}
                <button
                  type="button"
                  onClick={() => setDraft({ ...draft, choices: [t('console.polls.yes'), t('console.polls.no')] })}
                >
                  {t('console.polls.yes_no')}
                </button>
              </div>
            </fieldset>
            {invalid && (
              <p id={`${id}-invalid`} className="field-error">
                {t('console.polls.invalid')}
              </p>
            )}
            <button type="submit" className="primary">
              {t('console.polls.open')}
            </button>
          </form>
        )
      )}
      {earlier.length > 0 && (
        <>
          <h3>{t('console.polls.earlier')}</h3>
          <ul className="poll-earlier">
            {earlier.map((poll) => (
              <li key={poll.id}>
                <Counts poll={poll} caption={poll.question} />
                <p>{poll.results_shown ? t('console.polls.shown') : t('console.polls.not_shown')}</p>
                {runsFloor && !poll.results_shown && (
                  <button type="button" onClick={() => void run(() => api.closePoll(sessionId, poll.id, true), 'shown')}>
                    {t('console.polls.show', { question: poll.question })}
                  </button>
                )}
              </li>
            ))}
          </ul>
        </>
      )}
    </section>
  )
}

function Counts({ poll, caption }: { poll: Poll; caption: string }) {
  const { t } = useTranslation()
  return (
    <table className="poll-counts">
      <caption>
        {caption} — {t('console.polls.total', { count: poll.answers ?? 0 })}
      </caption>
      <thead>
        <tr>
          <th scope="col">{t('console.polls.col_choice')}</th>
          <th scope="col">{t('console.polls.col_answers')}</th>
          <th scope="col">{t('console.polls.col_classrooms')}</th>
        </tr>
      </thead>
      <tbody>
        {(poll.results ?? []).map((c, i) => (
          <tr key={i}>
            <th scope="row">{c.text}</th>
            <td>{c.answers}</td>
            <td>{t('console.polls.classrooms_cell', { count: c.classrooms, people: c.classroom_headcount })}</td>
          </tr>
        ))}
      </tbody>
    </table>
  )
}
