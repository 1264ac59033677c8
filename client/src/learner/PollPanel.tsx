// The class's current poll beside the floor: what the learner answered
// (and a way to change it while the poll is open, or to answer one put
// off), and the results once the teacher shows them, in words: each
// choice with its answers, and the classrooms' people beside them.

import { useTranslation } from 'react-i18next'

import type { Poll } from '../live/polls'

interface Props {
  poll: Poll | undefined
  onOpen: () => void
}

export function PollPanel({ poll, onOpen }: Props) {
  const { t } = useTranslation()
  if (!poll) return null
  const open = poll.closed_at === null
  const mine = poll.my_choice ?? null
  return (
    <section className="panel poll-panel" aria-labelledby="poll-panel-title">
      <h2 id="poll-panel-title">{open ? t('poll.open_title') : t('poll.closed_title')}</h2>
      <p className="poll-question">{poll.question}</p>
      <p>{mine === null ? t('poll.not_answered') : t('poll.your_answer', { choice: poll.choices[mine] ?? '' })}</p>
      {open && (
        <button type="button" onClick={onOpen}>
          {mine === null ? t('poll.answer_now') : t('poll.change')}
        </button>
      )}
      {poll.results_shown && poll.results && (
        <>
          <h3>{t('poll.results')}</h3>
          <ul className="poll-results">
            {poll.results.map((c, i) => (
              <li key={i}>
                {t('poll.result', { choice: c.text, count: c.answers })}
                {c.classrooms > 0 && ` ${t('poll.result_classrooms', { count: c.classrooms, people: c.classroom_headcount })}`}
              </li>
            ))}
          </ul>
        </>
      )}
    </section>
  )
}
