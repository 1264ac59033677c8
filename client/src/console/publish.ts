// The teacher's camera and microphone, decided: what to say when the
// browser refuses the devices, what to do when LiveKit drops the
// connection, and how to name a device the browser gives no label. Pure.

import type { MessageKey } from '../i18n'

/** The sentence for a getUserMedia failure (its DOMException's name). */
export function deviceProblem(name: string): MessageKey {
  if (name === 'NotAllowedError' || name === 'SecurityError') return 'console.publish.blocked'
  if (name === 'NotFoundError' || name === 'OverconstrainedError') return 'console.publish.missing'
  if (name === 'NotReadableError' || name === 'AbortError') return 'console.publish.busy'
  return 'console.publish.failed'
}

/** Why LiveKit's connection ended. */
export type DropCause = 'client' | 'duplicate' | 'closed' | 'other'

/** Tries of a new connection (a fresh token each) after an unexpected drop. */
export const MAX_RETRIES = 5

export type AfterDrop = { kind: 'ignore' } | { kind: 'stop'; key: MessageKey } | { kind: 'retry'; delayMs: number }

/** Our own Stop ends nothing more; the same identity connected elsewhere (the desktop app)
 * wins, and this page does not fight it back; a room closed or a removal is final; anything
 * else is tried again, a little later each time, with a fresh token. */
export function afterDrop(cause: DropCause, attempt: number): AfterDrop {
  switch (cause) {
    case 'client':
      return { kind: 'ignore' }
    case 'duplicate':
      return { kind: 'stop', key: 'console.publish.taken_over' }
    case 'closed':
      return { kind: 'stop', key: 'console.publish.closed' }
    case 'other':
      return attempt >= MAX_RETRIES
        ? { kind: 'stop', key: 'console.publish.lost' }
        : { kind: 'retry', delayMs: Math.min(16_000, 1000 * 2 ** attempt) }
  }
}

export interface DeviceOption {
  id: string
  label: string | null
}

/** The devices of a kind to offer, those the browser identifies (none before permission in some). */
export function devicesOf(devices: readonly { kind: string; deviceId: string; label: string }[], kind: MediaDeviceKind): DeviceOption[] {
  return devices
    .filter((d) => d.kind === kind && d.deviceId !== '')
    .map((d) => ({ id: d.deviceId, label: d.label || null }))
}
