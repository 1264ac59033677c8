import { describe, expect, it } from 'vitest'

import { createVoiceDetector, rms } from './voice'

describe('talking into a muted microphone', () => {
  it('is noticed once the level stays up long enough, then once again only after a silence', () => {
    const d = createVoiceDetector(0.05, 500, 2000)
    const feed = (level: number, from: number, to: number) => {
      const hits: number[] = []
      for (let t = from; t <= to; t += 100) if (d.feed(level, t)) hits.push(t)
      return hits
    }
    expect(feed(0.2, 0, 400)).toEqual([])
    expect(feed(0.2, 500, 3000)).toEqual([500])
    expect(feed(0, 3100, 4000)).toEqual([])
    expect(feed(0.2, 4100, 5000)).toEqual([])
    expect(feed(0, 5100, 7200)).toEqual([])
    expect(feed(0.2, 7300, 7800)).toEqual([7800])
  })

  it('is not a short noise', () => {
    const d = createVoiceDetector(0.05, 500)
    expect([d.feed(0.5, 0), d.feed(0.5, 200), d.feed(0, 300), d.feed(0.5, 400), d.feed(0.5, 800)]).toEqual([
      false,
      false,
      false,
      false,
      false,
    ])
  })
})

describe('the level', () => {
  it('is zero for silence and one half for a square wave at half scale', () => {
    expect(rms(new Uint8Array(64).fill(128))).toBe(0)
    expect(rms(new Uint8Array(0))).toBe(0)
    const square = Uint8Array.from({ length: 64 }, (_, i) => (i % 2 ? 192 : 64))
    expect(rms(square)).toBeCloseTo(0.5)
  })
})
