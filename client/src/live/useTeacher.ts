// The teacher as the room shows them (the participant whose identity the
// server gave the `t-` prefix): present or not, camera and microphone on or
// off, talking or not, and the camera's track to show.

import { useRemoteParticipants, useSpeakingParticipants, useTracks } from '@livekit/components-react'
import type { TrackReference } from '@livekit/components-react'
import { Track, type Participant, type Room } from 'livekit-client'

export const isTeacher = (p: Participant) => p.identity.startsWith('t-')

export interface TeacherView {
  present: boolean
  name: string
  camera: TrackReference | null
  microphone: boolean
  talking: boolean
}

export function useTeacher(room: Room): TeacherView {
  const teacher = useRemoteParticipants({ room }).find(isTeacher)
  const tracks = useTracks([Track.Source.Camera, Track.Source.Microphone], { room })
  const speaking = useSpeakingParticipants({ room })
  const own = tracks.filter((t) => isTeacher(t.participant))
  const camera = own.find((t) => t.source === Track.Source.Camera && t.publication.track && !t.publication.isMuted)
  const microphone = own.some((t) => t.source === Track.Source.Microphone && !t.publication.isMuted)
  return {
    present: teacher !== undefined,
    name: teacher?.name ?? '',
    camera: camera ?? null,
    microphone,
    talking: speaking.some(isTeacher),
  }
}
