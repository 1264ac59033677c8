// The learner's floor: the hand toggle while waiting or not, the speaking
// banner while the floor is theirs, and the last notice (the teacher closed
// the microphone, the time ran out …). When one set of controls replaces
// the other under the learner's focus, the focus goes to the new main
// control instead of being lost.

import { useLayoutEffect, useRef, type RefObject } from 'react'
import { useTranslation } from 'react-i18next'

import { maySpeak, type FloorState } from '../live/floor'
import { HandToggle } from './HandToggle'
import { SpeakBanner } from './SpeakBanner'
import type { MicPermission } from './useMicrophonePermission'

interface Props {
  floor: FloorState
  permission: MicPermission
  talkingMuted: boolean
  primary: RefObject<HTMLButtonElement | null>
  onRaise: () => void
  onLower: () => void
  onToggleMic: () => void
  onGiveBack: () => void
}

export function FloorPanel(props: Props) {
  const { floor, permission, primary } = props
  const { t } = useTranslation()
  const panel = useRef<HTMLElement>(null)
  const hadFocus = useRef(false)
  const speaking = maySpeak(floor.learner)

  useLayoutEffect(() => {
    const active = document.activeElement
    const lost = active === null || active === document.body || !panel.current?.contains(active)
    if (hadFocus.current && lost) primary.current?.focus()
  }, [speaking, primary])

  return (
    <section
      ref={panel}
      className="floor"
      aria-labelledby="floor-title"
      onFocus={() => {
        hadFocus.current = true
      }}
      onBlur={(event) => {
        // A control removed under the focus blurs towards nothing: still ours.
        const to = event.relatedTarget
        if (to instanceof Node && !panel.current?.contains(to)) hadFocus.current = false
      }}
    >
      <h2 id="floor-title">{t('floor.title')}</h2>
      {speaking ? (
        <SpeakBanner
          learner={floor.learner}
          endingSoon={floor.deadline !== null}
          talkingMuted={props.talkingMuted}
          micRef={primary}
          onToggleMic={props.onToggleMic}
          onGiveBack={props.onGiveBack}
        />
      ) : (
        <HandToggle
          learner={floor.learner}
          busy={floor.pending !== null}
          buttonRef={primary}
          onRaise={props.onRaise}
          onLower={props.onLower}
        />
      )}
      {floor.notice && <p className="notice">{t(floor.notice)}</p>}
      {permission === 'denied' && <p className="warning">{t('mic.permission_denied')}</p>}
      {permission === 'unavailable' && <p className="warning">{t('mic.permission_unavailable')}</p>}
    </section>
  )
}
