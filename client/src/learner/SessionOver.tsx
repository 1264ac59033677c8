// After the class: ended, removed, left, or the connection lost (then the
// same seat can be taken back). The heading takes the focus, since the
// controls the learner was on are gone.

import { useEffect, useRef } from 'react'
import { useTranslation } from 'react-i18next'

import type { End } from '../live/session'

interface Props {
  end: End
  onRejoin: () => void
  onJoinAnother: () => void
}

export function SessionOver({ end, onRejoin, onJoinAnother }: Props) {
  const { t } = useTranslation()
  const heading = useRef<HTMLHeadingElement>(null)
  useEffect(() => heading.current?.focus(), [])
  return (
    <>
      <h1 ref={heading} tabIndex={-1}>
        {t(`over.${end}_title`)}
      </h1>
      <p>{t(`over.${end}_text`)}</p>
      {end === 'lost' && (
        <button type="button" className="primary" onClick={onRejoin}>
          {t('over.rejoin')}
        </button>
      )}
      {(end === 'ended' || end === 'left') && (
        <button type="button" onClick={onJoinAnother}>
          {t('over.join')}
        </button>
      )}
    </>
  )
}
