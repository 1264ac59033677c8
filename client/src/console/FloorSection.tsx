// The floor: who holds it, for how long (and how long is left when turns
// are limited), each with "take the floor back"; and the floor's settings
// (mode, speakers at once, time limit), prefilled with the current ones
// and applied live (PUT …/floor). Settings changed elsewhere show here
// unless the teacher is editing them.

import { useEffect, useRef, useState, type FormEvent } from 'react'
import { useTranslation } from 'react-i18next'

import { useCues } from '../a11y/AnnouncerProvider'
import { useFocusRescue } from '../a11y/useFocusRescue'
import type { FloorView } from '../api/client'
import type { FloorSettings } from './api'
import { checkFloor, FIELD_KEYS, floorInput, isProblem, serverField, type FloorField, type FloorInput, type Problem } from './classForm'
import { asApiError, consoleMessage, isExpiry, type Said } from './errors'
import { FloorFields } from './FloorFields'
import { elapsed, formatClock, isoDuration, remaining } from './hands'
import { useNow } from './useNow'

interface Props {
  /** The class's own teacher: the only one who gives and takes the floor. */
  runsFloor: boolean
  view: FloorView | null
  failure: Said | null
  onRevoke: (participantId: string) => void
  onConfigure: (settings: FloorSettings) => Promise<void>
}

export function FloorSection({ runsFloor, view, failure, onRevoke, onConfigure }: Props) {
  const { t } = useTranslation()
  const speakers = view?.speakers ?? []
  const now = useNow(speakers.length > 0)
  const section = useRef<HTMLElement>(null)
  const heading = useRef<HTMLHeadingElement>(null)
  const rescue = useFocusRescue(section, heading)

  return (
    <section ref={section} className="panel floor-panel" aria-labelledby="floor-title" {...rescue}>
      <h2 id="floor-title" ref={heading} tabIndex={-1}>
        {t('console.floor.title')}
      </h2>
      {failure && <p className="warning">{t(failure.key, failure.values)}</p>}
      {speakers.length === 0 ? (
        <p className="hint">{t('console.floor.nobody')}</p>
      ) : (
        <ul className="speaker-list" aria-label={t('console.floor.speakers')}>
          {speakers.map((s) => {
            const spoken = elapsed(s.since, now)
            const left = s.expires_at === null ? null : remaining(s.expires_at, now)
            return (
              <li key={s.participant_id} className="hand-row">
                <span className="hand-name">{s.name}</span>
                <span>
                  {t('console.floor.spoken')} <time dateTime={isoDuration(spoken)}>{formatClock(spoken)}</time>
                </span>
                {left !== null && (
                  <span>
                    {t('console.floor.left')} <time dateTime={isoDuration(left)}>{formatClock(left)}</time>
                  </span>
                )}
                {runsFloor && (
                  <span className="row-actions">
                    <button type="button" onClick={() => onRevoke(s.participant_id)}>
                      {t('console.floor.revoke', { name: s.name })}
                    </button>
                  </span>
                )}
              </li>
            )
          })}
        </ul>
      )}
      {view && runsFloor && <FloorForm view={view} onConfigure={onConfigure} />}
    </section>
  )
}

const same = (a: FloorInput, b: FloorInput) => a.mode === b.mode && a.maxSpeakers === b.maxSpeakers && a.timeLimit === b.timeLimit

function FloorForm({ view, onConfigure }: { view: FloorView; onConfigure: (settings: FloorSettings) => Promise<void> }) {
  const { t } = useTranslation()
  const cue = useCues()
  const current = floorInput(view)
  const [draft, setDraft] = useState<FloorInput>(current)
  const [editing, setEditing] = useState(false)
  const [problem, setProblem] = useState<Problem<FloorField> | null>(null)
  const [failure, setFailure] = useState<Said | null>(null)
  const [busy, setBusy] = useState(false)
  const refs = {
    max_speakers: useRef<HTMLInputElement>(null),
    speaking_time_limit_s: useRef<HTMLInputElement>(null),
  }

  // The server's settings, unless the teacher is changing them.
  const { mode, maxSpeakers, timeLimit } = current
  useEffect(() => {
    if (!editing) setDraft({ mode, maxSpeakers, timeLimit })
  }, [editing, mode, maxSpeakers, timeLimit])

  function fail(p: Problem<FloorField>) {
    setProblem(p)
    setFailure(null)
    cue([{ key: p.key, politeness: 'assertive', topic: 'floor_form' }])
    refs[p.field].current?.focus()
  }

  async function submit(event: FormEvent) {
    event.preventDefault()
    if (busy) return
    const checked = checkFloor(draft)
    if (isProblem(checked)) {
      fail(checked)
      return
    }
    setBusy(true)
    try {
      await onConfigure(checked)
      setProblem(null)
      setFailure(null)
      setEditing(false)
      cue([{ key: 'console.floor.applied', politeness: 'polite', topic: 'floor_form' }])
    } catch (thrown) {
      if (!isExpiry(thrown)) {
        const field = serverField(asApiError(thrown))
        if (field === 'max_speakers' || field === 'speaking_time_limit_s') fail({ field, key: FIELD_KEYS[field] })
        else {
          const said = consoleMessage(thrown)
          setProblem(null)
          setFailure(said)
          cue([{ key: said.key, values: said.values, politeness: 'assertive', topic: 'floor_form' }])
        }
      }
    } finally {
      setBusy(false)
    }
  }

  return (
    <form className="floor-form" onSubmit={submit} noValidate aria-labelledby="floor-settings-title">
      <h3 id="floor-settings-title">{t('console.floor.settings')}</h3>
      <FloorFields
        id="floor"
        value={draft}
        onChange={(next) => {
          setDraft(next)
          setEditing(!same(next, current))
        }}
        problem={problem}
        refs={refs}
      />
      {failure && <p className="warning">{t(failure.key, failure.values)}</p>}
      <button type="submit" className="primary" aria-disabled={busy || undefined}>
        {t('console.floor.apply')}
      </button>
    </form>
  )
}
