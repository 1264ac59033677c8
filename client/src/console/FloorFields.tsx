// The floor's three fields, shared by the new-class form (list page) and
// the floor form (class page): the mode, how many speak at once, and the
// speaking-time limit (empty for none). A problem is a sentence under its
// field, which is then marked invalid and described by it.

import type { RefObject } from 'react'
import { useTranslation } from 'react-i18next'

import type { FloorMode } from '../api/client'
import { FLOOR_MODES, type FloorField, type FloorInput, type Problem } from './classForm'

interface Props {
  /** Prefix of the fields' ids, unique on the page. */
  id: string
  value: FloorInput
  onChange: (value: FloorInput) => void
  problem: Problem<string> | null
  refs: Record<FloorField, RefObject<HTMLInputElement | null>>
}

export function FloorFields({ id, value, onChange, problem, refs }: Props) {
  const { t } = useTranslation()
  const wrong = (field: FloorField) => problem?.field === field
  const described = (field: FloorField, hint: string) => [hint, wrong(field) ? `${id}-${field}-error` : ''].filter(Boolean).join(' ')
  const error = (field: FloorField) =>
    wrong(field) && problem ? (
      <p id={`${id}-${field}-error`} className="field-error">
        {t(problem.key)}
      </p>
    ) : null
  return (
    <>
      <div className="field">
        <label htmlFor={`${id}-mode`}>{t('console.floor.mode')}</label>
        <p id={`${id}-mode-hint`} className="hint">
          {t(`console.modes.${value.mode}_hint`)}
        </p>
        <select
          id={`${id}-mode`}
          value={value.mode}
          aria-describedby={`${id}-mode-hint`}
          onChange={(e) => onChange({ ...value, mode: e.target.value as FloorMode })}
        >
          {FLOOR_MODES.map((mode) => (
            <option key={mode} value={mode}>
              {t(`console.modes.${mode}`)}
            </option>
          ))}
        </select>
      </div>
      <div className="field">
        <label htmlFor={`${id}-speakers`}>{t('console.floor.max_speakers')}</label>
        <p id={`${id}-speakers-hint`} className="hint">
          {t('console.floor.max_speakers_hint')}
        </p>
        <input
          id={`${id}-speakers`}
          ref={refs.max_speakers}
          type="number"
          inputMode="numeric"
          min={1}
          max={16}
          autoComplete="off"
          value={value.maxSpeakers}
          onChange={(e) => onChange({ ...value, maxSpeakers: e.target.value })}
          aria-invalid={wrong('max_speakers')}
          aria-describedby={described('max_speakers', `${id}-speakers-hint`)}
        />
        {error('max_speakers')}
      </div>
      <div className="field">
        <label htmlFor={`${id}-limit`}>{t('console.floor.time_limit')}</label>
        <p id={`${id}-limit-hint`} className="hint">
          {t('console.floor.time_limit_hint')}
        </p>
        <input
          id={`${id}-limit`}
          ref={refs.speaking_time_limit_s}
          type="number"
          inputMode="numeric"
          min={5}
          max={3600}
          autoComplete="off"
          value={value.timeLimit}
          onChange={(e) => onChange({ ...value, timeLimit: e.target.value })}
          aria-invalid={wrong('speaking_time_limit_s')}
          aria-describedby={described('speaking_time_limit_s', `${id}-limit-hint`)}
        />
        {error('speaking_time_limit_s')}
      </div>
    </>
  )
}
