// Holds the console's floor (floor.ts): each view is applied at once to the
// latest state, and what it says goes to the announcer, the raised-hand
// tone at the teacher's volume, or silent when they turned it off.

import { useCallback, useEffect, useRef, useState } from 'react'

import { useCues } from '../a11y/AnnouncerProvider'
import type { FloorView } from '../api/client'
import { consoleFloorStep, initialConsoleFloor, withHandSound, type ConsoleFloor } from './floor'
import type { HandSound } from './storage'

export function useConsoleFloor(sound: HandSound): [ConsoleFloor, (view: FloorView) => void] {
  const cue = useCues()
  const [state, setState] = useState<ConsoleFloor>(initialConsoleFloor)
  const current = useRef(state)
  const settings = useRef(sound)
  useEffect(() => {
    settings.current = sound
  }, [sound])
  const apply = useCallback(
    (view: FloorView) => {
      const next = consoleFloorStep(current.current, view)
      if (next.state === current.current) return
      current.current = next.state
      setState(next.state)
      if (next.cues.length > 0) cue(withHandSound(next.cues, settings.current))
    },
    [cue],
  )
  return [state, apply]
}
