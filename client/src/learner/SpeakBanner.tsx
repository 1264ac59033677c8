// The floor is the learner's: open (or mute) the microphone, which never
// opens by itself, and give the floor back. The microphone's state is
// shown in words, and a warning when the learner talks while muted.

import type { RefObject } from 'react'
import { useTranslation } from 'react-i18next'

import type { LearnerFloor } from '../live/floor'

interface Props {
  learner: LearnerFloor
  endingSoon: boolean
  talkingMuted: boolean
  micRef: RefObject<HTMLButtonElement | null>
  onToggleMic: () => void
  onGiveBack: () => void
}

export function SpeakBanner({ learner, endingSoon, talkingMuted, micRef, onToggleMic, onGiveBack }: Props) {
  const { t } = useTranslation()
  const mic = learner.kind === 'speaking' ? learner.mic : 'off'
  return (
    <div className={mic === 'live' ? 'speak-banner speak-banner-live' : 'speak-banner'}>
      <p className="speak-title">{t('speak.title')}</p>
      <p className="mic-state">{t(`mic.state_${mic}`)}</p>
      {talkingMuted && <p className="warning">{t('mic.talking_muted')}</p>}
      {endingSoon && <p className="hint">{t('speak.ending_soon')}</p>}
      <div className="actions">
        <button ref={micRef} type="button" className="primary" onClick={onToggleMic}>
          {mic === 'live' ? t('mic.mute') : t('mic.open')}
        </button>
        <button type="button" onClick={onGiveBack}>
          {t('speak.give_back')}
        </button>
      </div>
    </div>
  )
}
