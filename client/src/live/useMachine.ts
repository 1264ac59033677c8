// Holds one of the pure state machines (floor, session) for a component:
// each action is applied at once to the latest state (several can arrive
// between two renders), and the cues it yields go to the announcer.

import { useCallback, useRef, useState } from 'react'

import type { Cue } from '../a11y/announcer'
import { useCues } from '../a11y/AnnouncerProvider'

export type Step<S, A> = (state: S, action: A, now: number) => { state: S; cues: Cue[] }

export function useMachine<S, A>(step: Step<S, A>, initial: () => S): [S, (action: A) => void] {
  const cue = useCues()
  const [state, setState] = useState(initial)
  const current = useRef(state)
  const dispatch = useCallback(
    (action: A) => {
      const next = step(current.current, action, Date.now())
      current.current = next.state
      setState(next.state)
      if (next.cues.length > 0) cue(next.cues)
    },
    [step, cue],
  )
  return [state, dispatch]
}
