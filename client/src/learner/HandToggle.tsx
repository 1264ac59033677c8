// Raise or lower the hand: one toggle (aria-pressed; its label says what
// pressing does), with the place in line while the hand is up. While a
// typed question holds the place instead, the same button withdraws it.

import type { RefObject } from 'react'
import { useTranslation } from 'react-i18next'

import { useCues } from '../a11y/AnnouncerProvider'
import type { LearnerFloor } from '../live/floor'

interface Props {
  learner: LearnerFloor
  /** A request is on its way: presses wait for its answer. */
  busy: boolean
  buttonRef: RefObject<HTMLButtonElement | null>
  onRaise: () => void
  onLower: () => void
}

export function HandToggle({ learner, busy, buttonRef, onRaise, onLower }: Props) {
  const { t } = useTranslation()
  const cue = useCues()
  const raised = learner.kind === 'queued'
  const question = learner.kind === 'queued' && learner.question
  const closed = learner.kind === 'closed'

  function press() {
    if (busy) return
    if (closed) cue([{ key: 'hand.closed', politeness: 'polite', topic: 'floor' }])
    else if (raised) onLower()
    else onRaise()
  }

  return (
    <div className="hand">
      <button
        ref={buttonRef}
        type="button"
        className="primary hand-toggle"
        aria-pressed={question ? undefined : raised}
        aria-disabled={closed || undefined}
        aria-describedby={raised || closed ? 'hand-state' : undefined}
        onClick={press}
      >
        {question ? t('hand.withdraw') : raised ? t('hand.lower') : t('hand.raise')}
      </button>
      {learner.kind === 'queued' && (
        <p id="hand-state" className="hand-position">
          {learner.position === null
            ? t(learner.question ? 'hand.question_waiting' : 'hand.waiting')
            : t(learner.question ? 'hand.question_position' : 'hand.position', { count: learner.position, ordinal: true })}
        </p>
      )}
      {closed && (
        <p id="hand-state" className="hint">
          {t('hand.closed')}
        </p>
      )}
    </div>
  )
}
