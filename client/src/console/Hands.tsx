// The raised hands and typed questions, live, in the server's one order:
// each row its place, name (a classroom says how many it stands for), the
// question's text for a question (as text, never HTML), how long it has
// waited, and Grant / Lower, or for a question Grant / Answered aloud /
// Set aside. "Next in line" and "everyone's floor back" stay one key
// away (Alt+Shift+N, Alt+Shift+R). Rows are keyed by participant, and when
// the list changes under the focus, the focus stays with the same
// participant's button, or the next row's, or "next in line" (hands.ts).
// The new-hand tone's switch and volume are here, remembered on the device.

import { useLayoutEffect, useRef, type RefObject } from 'react'
import { useTranslation } from 'react-i18next'

import { ShortcutsDialog } from '../a11y/ShortcutsDialog'
import { focusLost, useFocusWatch } from '../a11y/useFocusRescue'
import type { Hand } from '../api/client'
import type { Questions } from '../live/questions'
import type { Participant } from './api'
import type { Said } from './errors'
import { elapsed, focusTarget, formatClock, handName, isoDuration, type RowAction, type RowFocus } from './hands'
import { CONSOLE_SHORTCUTS, KEYS } from './shortcuts'
import type { HandSound } from './storage'
import { useNow } from './useNow'

interface Props {
  /** The class's own teacher: the only one who gives and takes the floor. */
  runsFloor: boolean
  queue: Hand[]
  /** The typed questions by id (their text). */
  questions: Questions
  participants: Participant[]
  failure: Said | null
  grantNextRef: RefObject<HTMLButtonElement | null>
  onGrant: (participantId: string) => void
  onLower: (participantId: string) => void
  /** A typed question answered aloud. */
  onAnswer: (questionId: string) => void
  onDismiss: (questionId: string) => void
  onGrantNext: () => void
  onRevokeAll: () => void
  sound: HandSound
  onSound: (sound: HandSound) => void
  shortcuts: boolean
  onShortcuts: (enabled: boolean) => void
}

export function Hands(props: Props) {
  const { queue, participants, grantNextRef, sound } = props
  const { t } = useTranslation()
  const now = useNow(queue.length > 0)
  const list = useRef<HTMLOListElement>(null)
  const { inside, watch } = useFocusWatch(list)
  const buttons = useRef(new Map<string, HTMLButtonElement>())
  const focused = useRef<RowFocus | null>(null)
  const order = queue.map((h) => h.participant_id)
  const before = useRef<string[]>(order)
  const orderKey = order.join(' ')

  useLayoutEffect(() => {
    const last = focused.current
    if (inside.current && last && focusLost()) {
      const target = focusTarget(last, before.current, order)
      if (target === 'grant_next') grantNextRef.current?.focus()
      // A hand's row has no "answered aloud": its Grant then.
      else (buttons.current.get(`${target.id}:${target.action}`) ?? buttons.current.get(`${target.id}:grant`))?.focus()
    }
    before.current = order
    // The order is what matters, not the array's identity.
  }, [orderKey])

  const button = (hand: Hand, action: RowAction) => ({
    ref: (element: HTMLButtonElement | null) => {
      const key = `${hand.participant_id}:${action}`
      if (element) buttons.current.set(key, element)
      else buttons.current.delete(key)
    },
    onFocus: () => {
      focused.current = { id: hand.participant_id, action }
    },
  })

  return (
    <section className="panel hands" aria-labelledby="hands-title">
      <h2 id="hands-title">{t('console.hands.title')}</h2>
      {!props.runsFloor && <p className="hint">{t('console.floor.owner_only')}</p>}
      {props.runsFloor && (
        <div className="actions">
          <button
            ref={grantNextRef}
            type="button"
            className="primary"
            aria-keyshortcuts={props.shortcuts ? KEYS.grant_next : undefined}
            onClick={props.onGrantNext}
          >
            {t('console.hands.grant_next')}
          </button>
          <button
            type="button"
            aria-keyshortcuts={props.shortcuts ? KEYS.revoke_all : undefined}
            onClick={props.onRevokeAll}
          >
            {t('console.hands.revoke_all')}
          </button>
        </div>
      )}
      {props.failure && <p className="warning">{t(props.failure.key, props.failure.values)}</p>}
      <ol ref={list} className="hand-queue" aria-labelledby="hands-title" {...watch}>
        {queue.map((hand) => {
          const wait = elapsed(hand.raised_at, now)
          const name = handName(hand, participants)
          const questionId = hand.kind === 'question' ? (hand.question_id ?? null) : null
          const text = questionId === null ? null : (props.questions[questionId]?.text ?? null)
          return (
            <li key={hand.participant_id} className="hand-row">
              <span className="hand-place">{t('console.hands.place', { position: hand.position })}</span>
              <span className="hand-name">{t(name.key, name.values)}</span>
              {questionId !== null && (
                <span className="hand-question">
                  {t('console.hands.question')} <q>{text ?? t('console.hands.question_unknown')}</q>
                </span>
              )}
              <span className="hand-wait">
                {t('console.hands.waiting')} <time dateTime={isoDuration(wait)}>{formatClock(wait)}</time>
              </span>
              {props.runsFloor && (
                <span className="row-actions">
                  <button type="button" {...button(hand, 'grant')} onClick={() => props.onGrant(hand.participant_id)}>
                    {t('console.hands.grant', { name: hand.name })}
                  </button>
                  {questionId === null ? (
                    <button type="button" {...button(hand, 'lower')} onClick={() => props.onLower(hand.participant_id)}>
                      {t('console.hands.lower', { name: hand.name })}
                    </button>
                  ) : (
                    <>
                      <button type="button" {...button(hand, 'answer')} onClick={() => props.onAnswer(questionId)}>
                        {t('console.hands.answer', { name: hand.name })}
                      </button>
                      <button type="button" {...button(hand, 'lower')} onClick={() => props.onDismiss(questionId)}>
                        {t('console.hands.dismiss', { name: hand.name })}
                      </button>
                    </>
                  )}
                </span>
              )}
            </li>
          )
        })}
      </ol>
      {queue.length === 0 && <p className="hint">{t('console.hands.none')}</p>}
      <div className="hand-sound">
        <div className="field field-check">
          <input
            id="hand-sound-on"
            type="checkbox"
            checked={sound.on}
            onChange={(e) => props.onSound({ ...sound, on: e.target.checked })}
          />
          <label htmlFor="hand-sound-on">{t('console.hands.sound')}</label>
        </div>
        <div className="field">
          <label htmlFor="hand-sound-volume">{t('console.hands.volume')}</label>
          <input
            id="hand-sound-volume"
            type="range"
            min={0}
            max={100}
            step={5}
            value={sound.volume}
            aria-valuetext={t('console.hands.volume_value', { volume: sound.volume })}
            onChange={(e) => props.onSound({ ...sound, volume: Number(e.target.value) })}
          />
        </div>
      </div>
      {props.runsFloor && (
        <ShortcutsDialog
          id="console-shortcuts"
          shortcuts={CONSOLE_SHORTCUTS}
          intro="console.shortcuts_intro"
          enabled={props.shortcuts}
          onEnabledChange={props.onShortcuts}
        />
      )}
    </section>
  )
}
