import { describe, expect, it } from 'vitest'

import { afterDrop, deviceProblem, devicesOf, MAX_RETRIES } from './publish'

describe('the camera and microphone', () => {
  it.each([
    ['NotAllowedError', 'console.publish.blocked'],
    ['SecurityError', 'console.publish.blocked'],
    ['NotFoundError', 'console.publish.missing'],
    ['NotReadableError', 'console.publish.busy'],
    ['TypeError', 'console.publish.failed'],
  ])('a device refused with %s says %s', (name, key) => {
    expect(deviceProblem(name)).toBe(key)
  })

  it('are not fought back from the desktop app, nor kept on in a closed room', () => {
    expect(afterDrop('client', 0)).toEqual({ kind: 'ignore' })
    expect(afterDrop('duplicate', 0)).toEqual({ kind: 'stop', key: 'console.publish.taken_over' })
    expect(afterDrop('closed', 0)).toEqual({ kind: 'stop', key: 'console.publish.closed' })
  })

  it('reconnect after a drop, a little later each time, then give up', () => {
    expect(afterDrop('other', 0)).toEqual({ kind: 'retry', delayMs: 1000 })
    expect(afterDrop('other', 2)).toEqual({ kind: 'retry', delayMs: 4000 })
    expect(afterDrop('other', MAX_RETRIES)).toEqual({ kind: 'stop', key: 'console.publish.lost' })
  })

  it('offer the devices the browser identifies, named once it may', () => {
    const devices = [
      { kind: 'videoinput', deviceId: 'cam1', label: 'Front camera' },
      { kind: 'videoinput', deviceId: 'cam2', label: '' },
      { kind: 'audioinput', deviceId: 'mic1', label: 'Headset' },
      { kind: 'audioinput', deviceId: '', label: '' },
    ]
    expect(devicesOf(devices, 'videoinput')).toEqual([
      { id: 'cam1', label: 'Front camera' },
      { id: 'cam2', label: null },
    ])
    expect(devicesOf(devices, 'audioinput')).toEqual([{ id: 'mic1', label: 'Headset' }])
  })
})
