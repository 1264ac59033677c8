// Asks for the microphone when the learner arrives in class, so that the
// browser's question never comes as a surprise when the floor is given.
// The device is released at once: nothing is captured until the learner
// opens the microphone.

import { useEffect, useState } from 'react'

export type MicPermission = 'asking' | 'granted' | 'denied' | 'unavailable'

export function useMicrophonePermission(): MicPermission {
  const [permission, setPermission] = useState<MicPermission>('asking')
  useEffect(() => {
    let current = true
    const settle = (p: MicPermission) => current && setPermission(p)
    if (!navigator.mediaDevices?.getUserMedia) {
      settle('unavailable')
    } else {
      navigator.mediaDevices.getUserMedia({ audio: true }).then(
        (stream) => {
          for (const track of stream.getTracks()) track.stop()
          settle('granted')
        },
        (error: unknown) => {
          const name = error instanceof DOMException ? error.name : ''
          settle(name === 'NotAllowedError' || name === 'SecurityError' ? 'denied' : 'unavailable')
        },
      )
    }
    return () => {
      current = false
    }
  }, [])
  return permission
}
