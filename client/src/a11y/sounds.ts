// The tones: the floor given (rising) and the microphone closed by
// someone else (falling), for the learner; a hand raised (two quick high
// notes), for the teacher's console. They are made here as WAV files in data: URLs,
// so there is nothing to fetch, and played through one HTMLAudioElement
// each (a test can watch HTMLMediaElement.prototype.play; `src` starts
// with `data:audio/wav`). A browser that blocks sound until the learner
// acts refuses them silently: the announcement still says it all.

import type { Sound } from './announcer'

interface Note {
  hz: number
  ms: number
}

const TONES: Record<Sound, Note[]> = {
  granted: [
    { hz: 660, ms: 110 },
    { hz: 880, ms: 190 },
  ],
  revoked: [
    { hz: 587, ms: 110 },
    { hz: 392, ms: 260 },
  ],
  hand: [
    { hz: 784, ms: 90 },
    { hz: 1047, ms: 160 },
  ],
}

const RATE = 16_000
const VOLUME = 0.35
/** Fade in and out of each note, so it starts and stops without a click. */
const FADE_S = 0.008

/** A mono 16-bit PCM WAV file playing `notes` one after the other. */
export function wav(notes: readonly Note[], rate = RATE): Uint8Array {
  const samples: number[] = []
  for (const note of notes) {
    const n = Math.round((rate * note.ms) / 1000)
    const fade = Math.round(rate * FADE_S)
    for (let i = 0; i < n; i++) {
      const envelope = Math.min(1, i / fade, (n - 1 - i) / fade)
      samples.push(Math.sin((2 * Math.PI * note.hz * i) / rate) * envelope * VOLUME)
    }
  }
  const bytes = new Uint8Array(44 + samples.length * 2)
  const view = new DataView(bytes.buffer)
  const ascii = (at: number, text: string) => {
    for (let i = 0; i < text.length; i++) view.setUint8(at + i, text.charCodeAt(i))
  }
  ascii(0, 'RIFF')
  view.setUint32(4, 36 + samples.length * 2, true)
  ascii(8, 'WAVE')
  ascii(12, 'fmt ')
  view.setUint32(16, 16, true) // fmt chunk size
  view.setUint16(20, 1, true) // PCM
  view.setUint16(22, 1, true) // mono
  view.setUint32(24, rate, true)
  view.setUint32(28, rate * 2, true) // bytes per second
  view.setUint16(32, 2, true) // bytes per frame
  view.setUint16(34, 16, true) // bits per sample
  ascii(36, 'data')
  view.setUint32(40, samples.length * 2, true)
  samples.forEach((s, i) => view.setInt16(44 + i * 2, Math.round(s * 32767), true))
  return bytes
}

export function dataUrl(bytes: Uint8Array): string {
  let binary = ''
  for (const b of bytes) binary += String.fromCharCode(b)
  return `data:audio/wav;base64,${btoa(binary)}`
}

/** The tone's file, made once. */
const urls = new Map<Sound, string>()
export function soundUrl(sound: Sound): string {
  let url = urls.get(sound)
  if (!url) {
    url = dataUrl(wav(TONES[sound]))
    urls.set(sound, url)
  }
  return url
}

const players = new Map<Sound, HTMLAudioElement>()

/** Plays the tone, at `volume` (0–1) of its own level. */
export function playSound(sound: Sound, volume = 1): void {
  let player = players.get(sound)
  if (!player) {
    player = new Audio(soundUrl(sound))
    players.set(sound, player)
  }
  player.volume = Math.min(1, Math.max(0, volume))
  player.currentTime = 0
  player.play().catch(() => {
    // Blocked until the learner acts: the announcement carries the news.
  })
}
