// Follows the session's live updates for as long as the classroom is shown.

import { useEffect, useRef } from 'react'

import type { Question } from '../api/client'
import { actionsFor, followEvents } from './events'
import type { FloorAction } from './floor'
import { pollOfEvent, type Poll } from './polls'
import type { SessionAction } from './session'

/** The participant token to follow with and how to renew it (the learner's: learner/useSeat.ts). */
export interface SeatAccess {
  token: () => string
  /** Renews now; false when the server refused. */
  renew: () => Promise<boolean>
}

/** The class's other news: polls, and the learner's own typed questions. */
export interface ClassNews {
  onPoll?: (poll: Poll) => void
  onQuestion?: (question: Question) => void
}

export function useStream(
  sessionId: string,
  participantId: string,
  seat: SeatAccess,
  onFloor: (action: FloorAction) => void,
  onSession: (action: SessionAction) => void,
  news: ClassNews = {},
): void {
  const { token, renew } = seat
  const latest = useRef(news)
  useEffect(() => {
    latest.current = news
  })
  useEffect(() => {
    const controller = new AbortController()
    void followEvents({
      sessionId,
      participantId,
      token,
      renew,
      signal: controller.signal,
      onState: (state) => {
        if (state !== 'open') onFloor({ type: 'stream_down' })
      },
      onEvent: (event) => {
        const { floor, session } = actionsFor(event, participantId)
        if (floor) onFloor(floor)
        if (session) onSession(session)
        if (event.event === 'poll') latest.current.onPoll?.(pollOfEvent(event.data))
        else if (event.event === 'question') latest.current.onQuestion?.(event.data as Question)
      },
    }).then((end) => {
      if (end === 'kicked') onSession({ type: 'kicked' })
      // Ended with no event seen (a 410 on reconnecting): the same ending.
      else if (end === 'ended') onSession({ type: 'session', status: 'ended' })
      else if (end === 'refused') onFloor({ type: 'stream_down' })
    })
    return () => controller.abort()
  }, [sessionId, participantId, token, renew, onFloor, onSession])
}
