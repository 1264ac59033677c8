// What the console keeps on this device, in localStorage (through
// app/storage.ts): the raised-hand sound (on or off, and its volume) and
// whether the keyboard shortcuts are on. Never the API key, which the
// browser forgets once sent: the sign-in is an HttpOnly cookie.

import { local, read, write } from '../app/storage'

export interface HandSound {
  on: boolean
  /** 0–100. */
  volume: number
}

const SOUND_ON = 'estrade.console.hand_sound'
const VOLUME = 'estrade.console.hand_volume'
const SHORTCUTS = 'estrade.console.shortcuts'

export const DEFAULT_VOLUME = 70

export function loadHandSound(storage = local()): HandSound {
  const volume = Number.parseInt(read(storage, VOLUME) ?? '', 10)
  return {
    on: read(storage, SOUND_ON) !== 'off',
    volume: Number.isFinite(volume) ? Math.min(100, Math.max(0, volume)) : DEFAULT_VOLUME,
  }
}

export function saveHandSound(sound: HandSound, storage = local()): void {
  write(storage, SOUND_ON, sound.on ? 'on' : 'off')
  write(storage, VOLUME, String(Math.round(Math.min(100, Math.max(0, sound.volume)))))
}

/** Keyboard shortcuts are on unless the teacher turned them off. */
export function loadShortcutsEnabled(storage = local()): boolean {
  return read(storage, SHORTCUTS) !== 'off'
}

export function saveShortcutsEnabled(enabled: boolean, storage = local()): void {
  write(storage, SHORTCUTS, enabled ? 'on' : 'off')
}
