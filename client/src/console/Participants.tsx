// Everyone in the class, present first, then invited and gone, each with
// its kind and presence in words, a visible flag when a microphone is open
// without the floor, and Remove, after a question: a removed learner
// cannot come back into this class.

import { useRef, useState } from 'react'
import { useTranslation } from 'react-i18next'

import { ConfirmDialog } from '../a11y/ConfirmDialog'
import { useFocusRescue } from '../a11y/useFocusRescue'
import type { Participant } from './api'
import type { Said } from './errors'
import { kindOf, mayKick, microphoneWithoutFloor, presenceKey, sortParticipants } from './participants'

interface Props {
  participants: Participant[]
  failure: Said | null
  onKick: (participant: Participant) => void
}

export function Participants({ participants, failure, onKick }: Props) {
  const { t, i18n } = useTranslation()
  const [asking, setAsking] = useState<Participant | null>(null)
  const section = useRef<HTMLElement>(null)
  const heading = useRef<HTMLHeadingElement>(null)
  const rescue = useFocusRescue(section, heading)
  const sorted = sortParticipants(participants, i18n.language)
  const present = participants.filter((p) => p.presence === 'present' && !p.kicked).length

  return (
    <section ref={section} className="panel participants" aria-labelledby="participants-title" {...rescue}>
      <h2 id="participants-title" ref={heading} tabIndex={-1}>
        {t('console.participants.title')}
      </h2>
      <p>{t('console.participants.present', { count: present })}</p>
      {failure && <p className="warning">{t(failure.key, failure.values)}</p>}
      {sorted.length === 0 ? (
        <p className="hint">{t('console.participants.none')}</p>
      ) : (
        <ul className="participant-list" aria-labelledby="participants-title">
          {sorted.map((p) => {
            const kind = kindOf(p)
            return (
              <li key={p.id} className="hand-row">
                <span className="hand-name">{p.name}</span>
                <span>{t(kind.key, kind.values)}</span>
                <span className={`presence presence-${p.kicked ? 'kicked' : p.presence}`}>{t(presenceKey(p))}</span>
                {microphoneWithoutFloor(p) && <span className="flag">{t('console.participants.mic_without_floor')}</span>}
                {mayKick(p) && (
                  <span className="row-actions">
                    <button type="button" onClick={() => setAsking(p)}>
                      {t('console.participants.kick', { name: p.name })}
                    </button>
                  </span>
                )}
              </li>
            )
          })}
        </ul>
      )}
      <ConfirmDialog
        open={asking !== null}
        title={t('console.participants.kick_title', { name: asking?.name ?? '' })}
        text={t('console.participants.kick_text')}
        confirmLabel={t('console.participants.kick_confirm')}
        onConfirm={() => asking && onKick(asking)}
        onClose={() => setAsking(null)}
        fallback={heading}
      />
    </section>
  )
}
