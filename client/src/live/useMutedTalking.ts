// Notices the learner talking into a muted microphone. A muted LiveKit
// track is disabled, so it carries silence; a clone of it, enabled, hears
// the room, and is listened to only while muted (and never sent).

import { Track, type LocalAudioTrack, type Room } from 'livekit-client'
import { useEffect, useState } from 'react'

import { createVoiceDetector, rms } from './voice'

const POLL_MS = 100

export function useMutedTalking(room: Room, muted: boolean, onTalking: () => void): boolean {
  const [talking, setTalking] = useState(false)
  useEffect(() => {
    setTalking(false)
    if (!muted) return
    const track = room.localParticipant.getTrackPublication(Track.Source.Microphone)?.track as
      | LocalAudioTrack
      | undefined
    if (!track) return
    const probe = track.mediaStreamTrack.clone()
    probe.enabled = true
    const context = new AudioContext()
    const analyser = context.createAnalyser()
    analyser.fftSize = 1024
    context.createMediaStreamSource(new MediaStream([probe])).connect(analyser)
    const samples = new Uint8Array(analyser.fftSize)
    const detector = createVoiceDetector()
    const poll = setInterval(() => {
      analyser.getByteTimeDomainData(samples)
      if (detector.feed(rms(samples), performance.now())) {
        setTalking(true)
        onTalking()
      }
    }, POLL_MS)
    return () => {
      clearInterval(poll)
      probe.stop()
      void context.close()
    }
  }, [room, muted, onTalking])
  return talking
}
