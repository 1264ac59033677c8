// An admin watches a live class unseen: "Watch this class" asks for an
// observer token (POST …/observer-token: subscribe only, hidden from the
// learners, audited each time) and plays the teacher's camera and sound
// here; "Stop watching" leaves the room. A drop is said, and watching again
// asks for a fresh token (each is accepted for a few minutes only).

import { RoomAudioRenderer, RoomContext, VideoTrack } from '@livekit/components-react'
import { Room, RoomEvent } from 'livekit-client'
import { useEffect, useRef, useState } from 'react'
import { useTranslation } from 'react-i18next'

import { useCues } from '../a11y/AnnouncerProvider'
import { useTeacher } from '../live/useTeacher'
import { useConsole } from './context'
import { consoleMessage, isExpiry, type Said } from './errors'

type Watching = 'off' | 'connecting' | 'on'

export function Observe({ sessionId }: { sessionId: string }) {
  const { t } = useTranslation()
  const cue = useCues()
  const { api } = useConsole()
  const [room, setRoom] = useState<Room | null>(null)
  const [watching, setWatching] = useState<Watching>('off')
  const [problem, setProblem] = useState<Said | null>(null)
  const current = useRef<Room | null>(null)

  // Leaving the page leaves the room.
  useEffect(() => () => void current.current?.disconnect(), [])

  async function watch() {
    if (watching !== 'off') return
    setWatching('connecting')
    setProblem(null)
    const next = new Room({ adaptiveStream: true })
    try {
      const token = await api.observerToken(sessionId)
      next.on(RoomEvent.Disconnected, () => {
        if (current.current !== next) return
        current.current = null
        setRoom(null)
        setWatching('off')
        cue([{ key: 'console.observe.dropped', politeness: 'polite', topic: 'observe' }])
      })
      current.current = next
      await next.connect(token.livekit_url, token.token)
      // The press is the gesture that lets the browser play the sound.
      await next.startAudio()
      setRoom(next)
      setWatching('on')
      cue([{ key: 'console.observe.watching', politeness: 'polite', topic: 'observe' }])
    } catch (thrown) {
      current.current = null
      void next.disconnect()
      setWatching('off')
      if (isExpiry(thrown)) return
      const said = consoleMessage(thrown)
      setProblem(said)
      cue([{ key: said.key, values: said.values, politeness: 'assertive', topic: 'observe' }])
    }
  }

  async function stop() {
    const leaving = current.current
    current.current = null
    setRoom(null)
    setWatching('off')
    await leaving?.disconnect()
    cue([{ key: 'console.observe.stopped', politeness: 'polite', topic: 'observe' }])
  }

  return (
    <section className="panel observe" aria-labelledby="observe-title">
      <h2 id="observe-title">{t('console.observe.title')}</h2>
      <p className="hint">{t('console.observe.intro')}</p>
      {room && (
        <RoomContext.Provider value={room}>
          <Stage room={room} />
        </RoomContext.Provider>
      )}
      {problem && <p className="warning">{t(problem.key, problem.values)}</p>}
      {watching === 'on' ? (
        <button type="button" onClick={() => void stop()}>
          {t('console.observe.stop')}
        </button>
      ) : (
        <button type="button" className="primary" aria-disabled={watching === 'connecting'} onClick={() => void watch()}>
          {t('console.observe.start')}
        </button>
      )}
    </section>
  )
}

/** What the learners see and hear of the teacher. */
function Stage({ room }: { room: Room }) {
  const { t } = useTranslation()
  const teacher = useTeacher(room)
  return (
    <div className="observe-stage">
      <RoomAudioRenderer room={room} />
      {teacher.camera ? (
        <VideoTrack
          trackRef={teacher.camera}
          className="screen-video"
          aria-label={teacher.name ? t('stage.video_named', { name: teacher.name }) : t('stage.video')}
        />
      ) : (
        <p className="notice">{teacher.present ? t('stage.camera_off') : t('stage.waiting')}</p>
      )}
    </div>
  )
}
