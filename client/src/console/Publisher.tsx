// The teacher's camera and microphone from this browser: the two device
// lists (named once the browser was allowed to use them), Start and Stop,
// and the camera's picture as learners see it (not mirrored). Only the
// class's own teacher publishes, and only while it is live. While
// connected, every learner's microphone plays here, through <audio>
// elements (RoomAudioRenderer), so the teacher hears who has the floor.

import { RoomAudioRenderer, useAudioPlayback } from '@livekit/components-react'
import type { LocalVideoTrack, Room } from 'livekit-client'
import { useEffect, useRef } from 'react'
import { useTranslation } from 'react-i18next'

import type { Session } from './api'
import { useConsole } from './context'
import type { DeviceOption } from './publish'
import { usePublisher } from './usePublisher'

export function Publisher({ session }: { session: Session }) {
  const { t } = useTranslation()
  const { api, account } = useConsole()
  const publisher = usePublisher(session.id, api)
  const owner = account.id === session.teacher_id
  const live = session.status === 'live'
  const { stop } = publisher

  // The class ended: LiveKit closes the room, and nothing is kept on.
  useEffect(() => {
    if (session.status === 'ended') stop()
  }, [session.status, stop])

  const off = publisher.phase === 'off'
  const blocked = off && !live
  return (
    <section className="panel publish" aria-labelledby="publish-title">
      <h2 id="publish-title">{t('console.publish.title')}</h2>
      {!owner ? (
        <p>{t('console.publish.owner_only')}</p>
      ) : (
        <>
          <DevicePicker
            id="publish-camera"
            label={t('console.publish.camera')}
            fallback={t('console.publish.default_camera')}
            numbered={(n) => t('console.publish.camera_n', { n })}
            devices={publisher.cameras}
            value={publisher.cameraId}
            onChange={publisher.chooseCamera}
          />
          <DevicePicker
            id="publish-microphone"
            label={t('console.publish.microphone')}
            fallback={t('console.publish.default_microphone')}
            numbered={(n) => t('console.publish.microphone_n', { n })}
            devices={publisher.microphones}
            value={publisher.microphoneId}
            onChange={publisher.chooseMicrophone}
          />
          <div className="actions">
            <button
              type="button"
              className={off ? 'primary' : undefined}
              aria-disabled={blocked || undefined}
              aria-describedby={blocked ? 'publish-state' : undefined}
              onClick={() => {
                if (off && !blocked) publisher.start()
                else if (!off) publisher.stop()
              }}
            >
              {off ? t('console.publish.start') : t('console.publish.stop')}
            </button>
          </div>
          <p id="publish-state" className={publisher.phase === 'on' ? 'result-ok' : 'hint'}>
            {blocked
              ? t(session.status === 'ended' ? 'console.publish.class_ended' : 'console.publish.not_live')
              : t(`console.publish.phase_${publisher.phase}`)}
          </p>
          {publisher.problem && <p className="warning">{t(publisher.problem)}</p>}
          {publisher.camera && <Preview track={publisher.camera} label={t('console.publish.preview')} />}
          {publisher.room && <LearnersSound room={publisher.room} />}
        </>
      )}
    </section>
  )
}

interface PickerProps {
  id: string
  label: string
  /** The only choice before the browser lists the devices. */
  fallback: string
  numbered: (n: number) => string
  devices: DeviceOption[]
  value: string
  onChange: (id: string) => void
}

function DevicePicker({ id, label, fallback, numbered, devices, value, onChange }: PickerProps) {
  const known = devices.some((d) => d.id === value)
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <select id={id} value={known ? value : ''} onChange={(e) => onChange(e.target.value)}>
        {!known && <option value="">{fallback}</option>}
        {devices.map((d, i) => (
          <option key={d.id} value={d.id}>
            {d.label ?? numbered(i + 1)}
          </option>
        ))}
      </select>
    </div>
  )
}

/** The local camera, unmirrored: the picture learners get. */
function Preview({ track, label }: { track: LocalVideoTrack; label: string }) {
  const video = useRef<HTMLVideoElement>(null)
  useEffect(() => {
    const element = video.current
    if (!element) return
    track.attach(element)
    return () => {
      track.detach(element)
    }
  }, [track])
  return <video ref={video} className="preview" aria-label={label} autoPlay muted playsInline />
}

/** The learners' microphones, and the button a browser holding sound back asks for. */
function LearnersSound({ room }: { room: Room }) {
  const { t } = useTranslation()
  const { canPlayAudio, startAudio } = useAudioPlayback(room)
  return (
    <>
      <RoomAudioRenderer room={room} />
      {!canPlayAudio && (
        <button type="button" className="primary" onClick={() => void startAudio()}>
          {t('console.publish.sound_on')}
        </button>
      )}
    </>
  )
}
