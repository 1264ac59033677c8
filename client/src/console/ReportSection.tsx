// The fairness report of the class: who asked for the floor, who got it,
// how long each spoke and waited. A summary, a table of every learner and
// classroom (the figures in full, for screen readers and keyboards), bars
// of talk time with their values written beside them (nothing is said by
// colour alone), and the timeline of who had the floor when. Read when
// the class is opened, when its status changes, after floor changes, and
// on demand.

import { useCallback, useEffect, useMemo, useState } from 'react'
import { useTranslation } from 'react-i18next'

import type { SessionStatus } from '../api/client'
import { useConsole } from './context'
import { consoleMessage, isExpiry, type Said } from './errors'
import { isoDuration } from './hands'
import { debounce } from '../app/debounce'
import { clock, concentration, delay, fractions, percent, turns, type Report } from './report'

/** Floor changes come in bursts: one read after the last. */
const FLOOR_DEBOUNCE_MS = 1_000

interface Props {
  sessionId: string
  status: SessionStatus
  /** The floor's version: a change reads the report again. */
  floorVersion: number | null
}

export function ReportSection({ sessionId, status, floorVersion }: Props) {
  const { t, i18n } = useTranslation()
  const { api } = useConsole()
  const [report, setReport] = useState<Report | null>(null)
  const [failure, setFailure] = useState<Said | null>(null)

  const load = useCallback(
    () =>
      api.report(sessionId).then(
        (next) => {
          setReport(next)
          setFailure(null)
        },
        (thrown: unknown) => {
          if (!isExpiry(thrown)) setFailure(consoleMessage(thrown))
        },
      ),
    [api, sessionId],
  )
  const later = useMemo(() => debounce(() => void load(), FLOOR_DEBOUNCE_MS), [load])
  useEffect(() => () => later.cancel(), [later])
  useEffect(() => {
    void load()
  }, [load, status])
  useEffect(() => {
    if (floorVersion !== null) later.call()
  }, [floorVersion, later])

  const lang = i18n.language
  const time = (iso: string) => new Intl.DateTimeFormat(lang, { timeStyle: 'medium' }).format(new Date(iso))
  const length = (seconds: number | null) =>
    seconds === null ? (
      t('console.report.none')
    ) : (
      <time dateTime={isoDuration(seconds * 1000)}>{clock(seconds)}</time>
    )
  const s = report?.session
  const people = report?.participants ?? []
  const bars = fractions(people.map((p) => p.talk_time_s))
  const waitBars = fractions(people.map((p) => p.longest_wait_s ?? 0))

  return (
    <section className="panel report" aria-labelledby="report-title">
      <h2 id="report-title">{t('console.report.title')}</h2>
      <p className="hint">{t('console.report.intro')}</p>
      <button type="button" onClick={() => void load()}>
        {t('console.report.refresh')}
      </button>
      {failure && <p className="warning">{t(failure.key, failure.values)}</p>}
      {s && (
        <>
          <dl className="report-summary">
            <dt>{t('console.report.duration')}</dt>
            <dd>{length(s.duration_s)}</dd>
            <dt>{t('console.report.learner_share')}</dt>
            <dd>{percent(s.learner_share, lang) ?? t('console.report.none')}</dd>
            <dt>{t('console.report.teacher_share')}</dt>
            <dd>{percent(s.teacher_share, lang) ?? t('console.report.none')}</dd>
            <dt>{t('console.report.speakers')}</dt>
            <dd>{t('console.report.speakers_of', { count: s.distinct_speakers, total: s.learners })}</dd>
            <dt>{t('console.report.median_wait')}</dt>
            <dd>{length(s.median_wait_s)}</dd>
            <dt>{t('console.report.unanswered')}</dt>
            <dd>{s.hands_unanswered}</dd>
            <dt>{t('console.report.questions')}</dt>
            <dd>{t('console.report.questions_of', { count: s.questions_asked, answered: s.questions_answered })}</dd>
            <dt>{t('console.report.concentration')}</dt>
            <dd>{concentration(s.talk_time_gini, lang) ?? t('console.report.none')}</dd>
            <dt>{t('console.report.first_track')}</dt>
            <dd>{delay(report.startup?.teacher_first_track_s, lang) ?? t('console.report.none')}</dd>
            <dt>{t('console.report.connect')}</dt>
            <dd>
              {report.startup?.learner_connect_median_s != null
                ? t('console.report.connect_of', {
                    median: delay(report.startup.learner_connect_median_s, lang),
                    max: delay(report.startup.learner_connect_max_s, lang),
                  })
                : t('console.report.none')}
            </dd>
          </dl>
          {people.length === 0 ? (
            <p className="hint">{t('console.report.nobody')}</p>
          ) : (
            <>
              {/* Scrolls sideways on a narrow screen: focusable, so the keyboard can scroll it. */}
              <div className="table-scroll" role="region" aria-labelledby="report-table-caption" tabIndex={0}>
                <table>
                  <caption id="report-table-caption">{t('console.report.table')}</caption>
                  <thead>
                    <tr>
                      <th scope="col">{t('console.report.col_name')}</th>
                      <th scope="col">{t('console.report.col_hands')}</th>
                      <th scope="col">{t('console.report.col_granted')}</th>
                      <th scope="col">{t('console.report.col_talk')}</th>
                      <th scope="col">{t('console.report.col_longest_wait')}</th>
                      <th scope="col">{t('console.report.col_median_wait')}</th>
                      <th scope="col">{t('console.report.col_unanswered')}</th>
                      <th scope="col">{t('console.report.col_questions')}</th>
                      <th scope="col">{t('console.report.col_questions_answered')}</th>
                    </tr>
                  </thead>
                  <tbody>
                    {people.map((p) => (
                      <tr key={p.participant_id}>
                        <th scope="row">{p.display_name}</th>
                        <td>{p.hands_raised}</td>
                        <td>{p.times_granted}</td>
                        <td>{length(p.talk_time_s)}</td>
                        <td>{length(p.longest_wait_s)}</td>
                        <td>{length(p.median_wait_s)}</td>
                        <td>{p.hands_unanswered}</td>
                        <td>{p.questions_asked}</td>
                        <td>{p.questions_answered}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
              <h3 id="report-bars-title">{t('console.report.bars')}</h3>
              <ul className="report-bars" aria-labelledby="report-bars-title">
                {people.map((p, i) => (
                  <li key={p.participant_id}>
                    <span className="bar-name">{p.display_name}</span>
                    <span className="bar-track" aria-hidden="true">
                      <span className="bar-fill" style={{ inlineSize: `${Math.round((bars[i] ?? 0) * 100)}%` }} />
                    </span>
                    <span>{length(p.talk_time_s)}</span>
                  </li>
                ))}
              </ul>
              <h3 id="report-wait-bars-title">{t('console.report.wait_bars')}</h3>
              <ul className="report-bars" aria-labelledby="report-wait-bars-title">
                {people.map((p, i) => (
                  <li key={p.participant_id}>
                    <span className="bar-name">{p.display_name}</span>
                    <span className="bar-track" aria-hidden="true">
                      <span className="bar-fill" style={{ inlineSize: `${Math.round((waitBars[i] ?? 0) * 100)}%` }} />
                    </span>
                    <span>{length(p.longest_wait_s)}</span>
                  </li>
                ))}
              </ul>
            </>
          )}
          <h3 id="report-timeline-title">{t('console.report.timeline')}</h3>
          {report.timeline.length === 0 ? (
            <p className="hint">{t('console.report.no_turns')}</p>
          ) : (
            <ol className="report-timeline" aria-labelledby="report-timeline-title">
              {turns(report).map((turn) => (
                <li key={`${turn.name}-${turn.from}`}>
                  {turn.until === null
                    ? t('console.report.turn_open', { name: turn.name, from: time(turn.from) })
                    : t('console.report.turn', { name: turn.name, from: time(turn.from), until: time(turn.until) })}{' '}
                  {turn.seconds !== null && length(turn.seconds)}
                </li>
              ))}
            </ol>
          )}
        </>
      )}
    </section>
  )
}
