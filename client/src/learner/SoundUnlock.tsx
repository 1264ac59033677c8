// When the browser blocks sound until the learner acts: one large button,
// focused and announced, that starts the class's audio (room.startAudio()).

import { useAudioPlayback } from '@livekit/components-react'
import type { Room } from 'livekit-client'
import { useEffect, useRef } from 'react'
import { useTranslation } from 'react-i18next'

import { useCues } from '../a11y/AnnouncerProvider'

interface Props {
  room: Room
  /** Sound plays: the button is gone, the focus should go on. */
  onUnlocked: () => void
}

export function SoundUnlock({ room, onUnlocked }: Props) {
  const { t } = useTranslation()
  const cue = useCues()
  const { canPlayAudio, startAudio } = useAudioPlayback(room)
  const button = useRef<HTMLButtonElement>(null)

  useEffect(() => {
    if (canPlayAudio) return
    button.current?.focus()
    cue([{ key: 'sound.blocked', politeness: 'assertive', topic: 'sound' }])
  }, [canPlayAudio, cue])

  if (canPlayAudio) return null
  return (
    <button
      ref={button}
      type="button"
      className="sound-unlock"
      onClick={async () => {
        await startAudio()
        onUnlocked()
      }}
    >
      {t('sound.turn_on')}
    </button>
  )
}
