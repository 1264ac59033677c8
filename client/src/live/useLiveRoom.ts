// The LiveKit room: connects with the join answer's URL and token (LiveKit
// hands out the ICE servers; we add none), and turns its events into
// session actions (connection, quality, why it ended) and floor actions
// (the participant's attributes, the microphone's publication). A
// microphone LiveKit no longer lets us publish is unpublished and stopped.

import { useSequentialRoomConnectDisconnect } from '@livekit/components-react'
import {
  ConnectionState,
  DisconnectReason,
  Room,
  RoomEvent,
  Track,
  type ConnectionQuality,
  type Participant,
} from 'livekit-client'
import { useEffect, useState } from 'react'

import type { FloorAction, Mic } from './floor'
import type { Connection, DisconnectCause, SessionAction } from './session'

function connectionOf(state: ConnectionState): Connection {
  switch (state) {
    case ConnectionState.Connecting:
      return 'connecting'
    case ConnectionState.Connected:
      return 'connected'
    // Signalling lost is said too: on a real network loss livekit-client
    // may stay here (resuming) for as long as the loss lasts, with the
    // media gone as well, and the hand and the floor cannot reach the
    // teacher meanwhile (seen in the 443-only field test).
    case ConnectionState.SignalReconnecting:
    case ConnectionState.Reconnecting:
      return 'reconnecting'
    case ConnectionState.Disconnected:
      return 'disconnected'
  }
}

function causeOf(reason: DisconnectReason | undefined): DisconnectCause {
  switch (reason) {
    case DisconnectReason.CLIENT_INITIATED:
      return 'client'
    case DisconnectReason.PARTICIPANT_REMOVED:
      return 'removed'
    case DisconnectReason.ROOM_DELETED:
    case DisconnectReason.ROOM_CLOSED:
      return 'room_deleted'
    default:
      return 'other'
  }
}

export function micOf(room: Room): Mic {
  const publication = room.localParticipant.getTrackPublication(Track.Source.Microphone)
  if (!publication?.track) return 'off'
  return publication.isMuted ? 'muted' : 'live'
}

/** Unpublishes the microphone and stops it (the device's light goes off). */
export async function closeMic(room: Room): Promise<void> {
  const track = room.localParticipant.getTrackPublication(Track.Source.Microphone)?.track
  if (track) await room.localParticipant.unpublishTrack(track, true)
}

export function useLiveRoom(
  url: string,
  token: string,
  onSession: (action: SessionAction) => void,
  onFloor: (action: FloorAction) => void,
): Room {
  const [room] = useState(
    () =>
      new Room({
        adaptiveStream: true,
        stopLocalTrackOnUnpublish: true,
        audioCaptureDefaults: { echoCancellation: true, noiseSuppression: true, autoGainControl: true },
      }),
  )
  const { connect, disconnect } = useSequentialRoomConnectDisconnect(room)

  useEffect(() => {
    const local = room.localParticipant
    const mine = (p: Participant) => p.identity === local.identity
    const onMic = () => onFloor({ type: 'mic', mic: micOf(room) })
    const onAttributes = (_changed: Record<string, string>, p: Participant) => {
      if (mine(p)) onFloor({ type: 'attributes', attributes: p.attributes })
    }
    const onPermissions = (_previous: unknown, p: Participant) => {
      if (mine(p) && !p.permissions?.canPublish) void closeMic(room)
    }
    const onConnection = (state: ConnectionState) => {
      if (state !== ConnectionState.Disconnected) onSession({ type: 'connection', connection: connectionOf(state) })
    }
    const onDisconnected = (reason?: DisconnectReason) => onSession({ type: 'disconnected', cause: causeOf(reason) })
    const onQuality = (quality: ConnectionQuality, p: Participant) => {
      if (mine(p)) onSession({ type: 'quality', quality })
    }
    const onConnected = () => {
      onFloor({ type: 'attributes', attributes: local.attributes })
      onMic()
    }
    room
      .on(RoomEvent.Connected, onConnected)
      .on(RoomEvent.ConnectionStateChanged, onConnection)
      .on(RoomEvent.Disconnected, onDisconnected)
      .on(RoomEvent.ConnectionQualityChanged, onQuality)
      .on(RoomEvent.ParticipantAttributesChanged, onAttributes)
      .on(RoomEvent.ParticipantPermissionsChanged, onPermissions)
      .on(RoomEvent.LocalTrackPublished, onMic)
      .on(RoomEvent.LocalTrackUnpublished, onMic)
      .on(RoomEvent.TrackMuted, onMic)
      .on(RoomEvent.TrackUnmuted, onMic)
    let unmounted = false
    connect(url, token).catch(() => {
      // A connection abandoned by our own cleanup is not a lost one.
      if (!unmounted) onSession({ type: 'disconnected', cause: 'other' })
    })
    return () => {
      unmounted = true
      room
        .off(RoomEvent.Connected, onConnected)
        .off(RoomEvent.ConnectionStateChanged, onConnection)
        .off(RoomEvent.Disconnected, onDisconnected)
        .off(RoomEvent.ConnectionQualityChanged, onQuality)
        .off(RoomEvent.ParticipantAttributesChanged, onAttributes)
        .off(RoomEvent.ParticipantPermissionsChanged, onPermissions)
        .off(RoomEvent.LocalTrackPublished, onMic)
        .off(RoomEvent.LocalTrackUnpublished, onMic)
        .off(RoomEvent.TrackMuted, onMic)
        .off(RoomEvent.TrackUnmuted, onMic)
      void disconnect()
    }
  }, [room, url, token, connect, disconnect, onSession, onFloor])

  return room
}

export type MicOpening = 'opened' | 'not_allowed' | 'blocked' | 'missing' | 'failed'

/** How long to wait for LiveKit's permission after the floor was given. */
const PERMISSION_WAIT_MS = 5000

function canPublish(room: Room): Promise<boolean> {
  const local = room.localParticipant
  if (local.permissions?.canPublish) return Promise.resolve(true)
  // The floor event can arrive before LiveKit applies the permission.
  return new Promise((resolve) => {
    const done = (allowed: boolean) => {
      clearTimeout(timer)
      room.off(RoomEvent.ParticipantPermissionsChanged, changed)
      resolve(allowed)
    }
    const changed = () => {
      if (local.permissions?.canPublish) done(true)
    }
    const timer = setTimeout(() => done(false), PERMISSION_WAIT_MS)
    room.on(RoomEvent.ParticipantPermissionsChanged, changed)
  })
}

/** Publishes (or unmutes) the microphone; only ever on the learner's action. */
export async function openMic(room: Room): Promise<MicOpening> {
  if (!(await canPublish(room))) return 'not_allowed'
  try {
    await room.localParticipant.setMicrophoneEnabled(true)
    return 'opened'
  } catch (error) {
    const name = error instanceof Error ? error.name : ''
    if (name === 'NotAllowedError' || name === 'SecurityError') return 'blocked'
    if (name === 'NotFoundError' || name === 'OverconstrainedError') return 'missing'
    return 'failed'
  }
}

/** Mutes the published microphone (it stays published, ready to unmute). */
export async function muteMic(room: Room): Promise<void> {
  await room.localParticipant.setMicrophoneEnabled(false)
}
