// The teacher's camera, large, with captions saying the state of the
// class and of the teacher's camera and microphone. The sound is played by
// RoomAudioRenderer, not by this video.

import { VideoTrack } from '@livekit/components-react'
import { useTranslation } from 'react-i18next'

import type { MessageKey } from '../i18n'
import type { Phase } from '../live/session'
import type { TeacherView } from '../live/useTeacher'

function captionsOf(phase: Phase, teacher: TeacherView): MessageKey[] {
  switch (phase) {
    case 'live':
      return [
        teacher.camera ? 'stage.live' : 'stage.camera_off',
        ...(teacher.microphone ? [] : ['stage.mic_off' as const]),
      ]
    case 'waiting':
      return ['stage.waiting']
    case 'reconnecting':
      return ['stage.reconnecting']
    default:
      return ['stage.connecting']
  }
}

export function TeacherStage({ phase, teacher }: { phase: Phase; teacher: TeacherView }) {
  const { t } = useTranslation()
  return (
    <section className="stage" aria-labelledby="stage-title">
      <h2 id="stage-title" className="visually-hidden">
        {t('stage.title')}
      </h2>
      <div className="screen">
        {phase === 'live' && teacher.camera && (
          <VideoTrack
            trackRef={teacher.camera}
            className="screen-video"
            aria-label={teacher.name ? t('stage.video_named', { name: teacher.name }) : t('stage.video')}
          />
        )}
        <ul className="captions">
          {captionsOf(phase, teacher).map((key) => (
            <li key={key}>{t(key)}</li>
          ))}
        </ul>
      </div>
    </section>
  )
}
