// Follows a class's live updates (live/events.ts) with the console's cookie:
// no token, no renewal (a 401 is final: the sign-in expired, or this class
// is not the teacher's). `floor` events update the floor, `session` events
// the status, `presence` events ask for the participants again, `poll` events update
// the polls, `question` events the typed questions.

import { useEffect, useRef, useState } from 'react'

import type { FloorView, Question, SessionEvent } from '../api/client'
import { followEvents, type StreamEnd, type StreamState } from '../live/events'
import { pollOfEvent, type Poll } from '../live/polls'

export interface StreamHandlers {
  onFloor: (view: FloorView) => void
  onSession: (event: SessionEvent) => void
  onPresence: () => void
  /** A poll opened, got an answer, closed. */
  onPoll?: (poll: Poll) => void
  /** A typed question asked, answered, set aside, withdrawn. */
  onQuestion?: (question: Question) => void
  /** The server refused the stream (401, 403, 404): find out why. */
  onRefused: () => void
}

export type ClassStreamState = StreamState | StreamEnd

export function useClassStream(sessionId: string, handlers: StreamHandlers): ClassStreamState {
  const [state, setState] = useState<ClassStreamState>('connecting')
  const latest = useRef(handlers)
  useEffect(() => {
    latest.current = handlers
  })
  useEffect(() => {
    const controller = new AbortController()
    void followEvents({
      sessionId,
      signal: controller.signal,
      onState: setState,
      onEvent: (event) => {
        if (event.event === 'floor') latest.current.onFloor(event.data as FloorView)
        else if (event.event === 'session') latest.current.onSession(event.data as SessionEvent)
        else if (event.event === 'presence') latest.current.onPresence()
        else if (event.event === 'poll') latest.current.onPoll?.(pollOfEvent(event.data))
        else if (event.event === 'question') latest.current.onQuestion?.(event.data as Question)
      },
    }).then((end) => {
      if (controller.signal.aborted) return
      setState(end)
      if (end === 'refused') latest.current.onRefused()
    })
    return () => controller.abort()
  }, [sessionId])
  return state
}
