// Tells when the learner talks into a muted microphone: the level stays
// above a threshold for long enough (a cough or a door does not count).
// Fed with levels (0–1, root mean square) and the time; pure.

export interface VoiceDetector {
  /** True once, when talking is first detected, until silence resets it. */
  feed(level: number, now: number): boolean
}

export function createVoiceDetector(threshold = 0.03, holdMs = 600, silenceMs = 2000): VoiceDetector {
  let loudSince: number | null = null
  let quietSince: number | null = null
  let reported = false
  return {
    feed(level, now) {
      if (level >= threshold) {
        quietSince = null
        loudSince ??= now
        if (!reported && now - loudSince >= holdMs) {
          reported = true
          return true
        }
        return false
      }
      loudSince = null
      quietSince ??= now
      if (now - quietSince >= silenceMs) reported = false
      return false
    },
  }
}

/** The root mean square of samples centred on 128 (AnalyserNode's byte time domain). */
export function rms(samples: Uint8Array): number {
  let sum = 0
  for (const s of samples) {
    const v = (s - 128) / 128
    sum += v * v
  }
  return samples.length === 0 ? 0 : Math.sqrt(sum / samples.length)
}
