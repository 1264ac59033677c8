// The teacher's camera and microphone, published from the browser, only
// when the teacher presses Start (connecting with the teacher's identity
// displaces a desktop app using it): the devices asked for (the browser's
// question), a fresh publish token, LiveKit's room connected and both
// tracks published. Stop unpublishes and disconnects. An unexpected drop
// is tried again with a fresh token (publish.ts says when not). While
// connected, the learners' sound plays (the page renders the room's audio).

import {
  DisconnectReason,
  Room,
  RoomEvent,
  Track,
  VideoPresets,
  createLocalTracks,
  type LocalTrack,
  type LocalVideoTrack,
} from 'livekit-client'
import { useCallback, useEffect, useRef, useState } from 'react'

import { useCues } from '../a11y/AnnouncerProvider'
import { ApiError } from '../api/client'
import type { MessageKey } from '../i18n'
import type { ConsoleApi } from './api'
import { consoleMessage, isExpiry } from './errors'
import { afterDrop, deviceProblem, devicesOf, type DeviceOption, type DropCause } from './publish'

export type PublishPhase = 'off' | 'starting' | 'on' | 'reconnecting'

export interface Publisher {
  phase: PublishPhase
  problem: MessageKey | null
  cameras: DeviceOption[]
  microphones: DeviceOption[]
  cameraId: string
  microphoneId: string
  room: Room | null
  camera: LocalVideoTrack | null
  start: () => void
  stop: () => void
  chooseCamera: (id: string) => void
  chooseMicrophone: (id: string) => void
}

function causeOf(reason: DisconnectReason | undefined): DropCause {
  switch (reason) {
    case DisconnectReason.CLIENT_INITIATED:
      return 'client'
    case DisconnectReason.DUPLICATE_IDENTITY:
      return 'duplicate'
    case DisconnectReason.PARTICIPANT_REMOVED:
    case DisconnectReason.ROOM_DELETED:
    case DisconnectReason.ROOM_CLOSED:
      return 'closed'
    default:
      return 'other'
  }
}

/** The teacher hears the learners through the speakers: the microphone must not send them back. */
const AUDIO_CAPTURE = { echoCancellation: true, noiseSuppression: true, autoGainControl: true }

function makeRoom(): Room {
  return new Room({
    adaptiveStream: false,
    dynacast: true,
    stopLocalTrackOnUnpublish: true,
    audioCaptureDefaults: AUDIO_CAPTURE,
  })
}

export function usePublisher(sessionId: string, api: ConsoleApi): Publisher {
  const cue = useCues()
  const [phase, setPhase] = useState<PublishPhase>('off')
  const [problem, setProblem] = useState<MessageKey | null>(null)
  const [cameras, setCameras] = useState<DeviceOption[]>([])
  const [microphones, setMicrophones] = useState<DeviceOption[]>([])
  const [cameraId, setCameraId] = useState('')
  const [microphoneId, setMicrophoneId] = useState('')
  const [room, setRoom] = useState<Room | null>(null)
  const [camera, setCamera] = useState<LocalVideoTrack | null>(null)
  // What the connection loop reads between awaits (state would be stale there).
  const live = useRef({
    wanted: false,
    /** This connection got as far as publishing: a drop after that is tried again. */
    connected: false,
    room: null as Room | null,
    tracks: [] as LocalTrack[],
    attempt: 0,
    retry: null as ReturnType<typeof setTimeout> | null,
    cameraId: '',
    microphoneId: '',
  })

  const listDevices = useCallback(async () => {
    if (!navigator.mediaDevices?.enumerateDevices) return
    try {
      const all = await navigator.mediaDevices.enumerateDevices()
      setCameras(devicesOf(all, 'videoinput'))
      setMicrophones(devicesOf(all, 'audioinput'))
    } catch {
      // No list: the browser's default devices are used.
    }
  }, [])

  useEffect(() => {
    void listDevices()
    navigator.mediaDevices?.addEventListener?.('devicechange', listDevices)
    return () => navigator.mediaDevices?.removeEventListener?.('devicechange', listDevices)
  }, [listDevices])

  const say = useCallback(
    (key: MessageKey, politeness: 'polite' | 'assertive', values?: Record<string, number>) =>
      cue([{ key, values, politeness, topic: 'publish' }]),
    [cue],
  )

  /** Lets go of everything: the room, the devices (their lights go off). */
  const release = useCallback(async () => {
    const l = live.current
    if (l.retry) clearTimeout(l.retry)
    l.retry = null
    const r = l.room
    const tracks = l.tracks
    l.room = null
    l.tracks = []
    setRoom(null)
    setCamera(null)
    for (const track of tracks) track.stop()
    if (r) await r.disconnect(true)
  }, [])

  const halt = useCallback(
    async (key: MessageKey | null) => {
      live.current.wanted = false
      await release()
      setPhase('off')
      setProblem(key)
      if (key) say(key, 'assertive')
    },
    [release, say],
  )

  const connect = useCallback(async (): Promise<void> => {
    const l = live.current
    let tracks: LocalTrack[]
    try {
      tracks = await createLocalTracks({
        audio: { ...AUDIO_CAPTURE, deviceId: l.microphoneId || undefined },
        video: { deviceId: l.cameraId || undefined, resolution: VideoPresets.h720.resolution },
      })
    } catch (error) {
      await halt(deviceProblem(error instanceof Error ? error.name : ''))
      return
    }
    if (!l.wanted) {
      for (const track of tracks) track.stop()
      return
    }
    l.tracks = tracks
    const video = tracks.find((t) => t.kind === Track.Kind.Video) as LocalVideoTrack | undefined
    const audio = tracks.find((t) => t.kind === Track.Kind.Audio)
    setCamera(video ?? null)
    // Now that the browser said yes, the devices have their names.
    void listDevices()
    void video?.getDeviceId().then((id) => {
      if (!id) return
      l.cameraId = id
      setCameraId(id)
    })
    void audio?.getDeviceId().then((id) => {
      if (!id) return
      l.microphoneId = id
      setMicrophoneId(id)
    })

    const r = makeRoom()
    r.on(RoomEvent.Reconnecting, () => l.room === r && setPhase('reconnecting'))
      .on(RoomEvent.Reconnected, () => l.room === r && setPhase('on'))
      .on(RoomEvent.Disconnected, (reason?: DisconnectReason) => {
        // A connection that never got through is the catch's below.
        if (l.room !== r || !l.wanted || !l.connected) return
        l.connected = false
        void dropped(causeOf(reason))
      })
    l.room = r
    l.connected = false
    try {
      // A fresh token for every connection: one kept from before may have expired.
      const token = await api.publishToken(sessionId)
      if (!l.wanted || l.room !== r) return
      await r.connect(token.livekit_url, token.token)
      if (!l.wanted || l.room !== r) return
      for (const track of tracks) await r.localParticipant.publishTrack(track)
      if (!l.wanted || l.room !== r) return
      l.attempt = 0
      l.connected = true
      setRoom(r)
      setPhase('on')
      say('console.publish.on', 'polite')
      // Still within the press (or its retry): let the learners' sound play.
      void r.startAudio().catch(() => {})
    } catch (error) {
      if (l.room !== r) return
      if (isExpiry(error)) {
        await halt(null)
        return
      }
      // A first connection that fails is said; one that fails while coming back is tried again.
      const passing = !(error instanceof ApiError) || error.code === 'network' || error.status >= 500
      if (l.attempt > 0 && passing) {
        await dropped('other')
        return
      }
      await halt(error instanceof ApiError ? consoleMessage(error).key : 'console.publish.connect_failed')
    }
  }, [api, sessionId, halt, release, listDevices, say])

  /** After LiveKit dropped us: stop, or a new connection (fresh token) a little later. */
  async function dropped(cause: DropCause): Promise<void> {
    const l = live.current
    const next = afterDrop(cause, l.attempt)
    if (next.kind === 'ignore') return
    if (next.kind === 'stop') {
      await halt(next.key)
      return
    }
    l.attempt += 1
    setPhase('reconnecting')
    say('console.publish.reconnecting', 'assertive')
    await release()
    if (l.wanted) l.retry = setTimeout(() => void connectRef.current(), next.delayMs)
  }

  const connectRef = useRef(connect)
  useEffect(() => {
    connectRef.current = connect
  }, [connect])

  const start = useCallback(() => {
    const l = live.current
    if (l.wanted) return
    l.wanted = true
    l.attempt = 0
    setProblem(null)
    setPhase('starting')
    void connect()
  }, [connect])

  const stop = useCallback(() => {
    if (!live.current.wanted) return
    live.current.wanted = false
    void release().then(() => {
      setPhase('off')
      say('console.publish.off', 'polite')
    })
  }, [release, say])

  // Leaving the class's page ends the publishing.
  useEffect(
    () => () => {
      live.current.wanted = false
      void release()
    },
    [release],
  )

  const chooseCamera = useCallback((id: string) => {
    live.current.cameraId = id
    setCameraId(id)
    const track = live.current.tracks.find((t) => t.kind === Track.Kind.Video)
    if (track && id) void track.setDeviceId(id)
  }, [])

  const chooseMicrophone = useCallback((id: string) => {
    live.current.microphoneId = id
    setMicrophoneId(id)
    const track = live.current.tracks.find((t) => t.kind === Track.Kind.Audio)
    if (track && id) void track.setDeviceId(id)
  }, [])

  return {
    phase,
    problem,
    cameras,
    microphones,
    cameraId,
    microphoneId,
    room,
    camera,
    start,
    stop,
    chooseCamera,
    chooseMicrophone,
  }
}
