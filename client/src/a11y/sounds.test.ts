import { describe, expect, it } from 'vitest'

import { soundUrl, wav } from './sounds'

describe('the tones', () => {
  it('are mono 16-bit PCM WAV files of the notes’ length', () => {
    const bytes = wav([{ hz: 440, ms: 100 }], 8000)
    const view = new DataView(bytes.buffer)
    const text = (at: number) => String.fromCharCode(...bytes.slice(at, at + 4))
    expect([text(0), text(8), text(12), text(36)]).toEqual(['RIFF', 'WAVE', 'fmt ', 'data'])
    expect(view.getUint16(20, true)).toBe(1)
    expect(view.getUint16(22, true)).toBe(1)
    expect(view.getUint32(24, true)).toBe(8000)
    expect(view.getUint16(34, true)).toBe(16)
    expect(view.getUint32(40, true)).toBe(800 * 2)
    expect(view.getUint32(4, true)).toBe(bytes.length - 8)
  })

  it('start and end silent, so they do not click', () => {
    const bytes = wav([{ hz: 440, ms: 50 }], 8000)
    const view = new DataView(bytes.buffer)
    expect(view.getInt16(44, true)).toBe(0)
    expect(view.getInt16(bytes.length - 2, true)).toBe(0)
  })

  it('differ between the floor given and the microphone closed', () => {
    const granted = soundUrl('granted')
    const revoked = soundUrl('revoked')
    expect(granted.startsWith('data:audio/wav;base64,')).toBe(true)
    expect(revoked.startsWith('data:audio/wav;base64,')).toBe(true)
    expect(granted).not.toBe(revoked)
    expect(soundUrl('granted')).toBe(granted)
  })

  it('give the raised hand its own tone', () => {
    const hand = soundUrl('hand')
    expect(hand.startsWith('data:audio/wav;base64,')).toBe(true)
    expect(new Set([hand, soundUrl('granted'), soundUrl('revoked')]).size).toBe(3)
  })
})
