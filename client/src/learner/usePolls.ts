// The class's polls for the learner: read once when the classroom opens
// (a poll opened before arriving is asked too), then kept by the `poll`
// events and by the answers to the learner's own choices.

import { useCallback, useEffect, useState } from 'react'

import { ApiError, api } from '../api/client'
import { withPoll, type Poll } from '../live/polls'
import type { SeatAccess } from '../live/useStream'

export interface Polls {
  polls: Poll[]
  /** A poll from the live stream. */
  onPoll: (poll: Poll) => void
  /** Sends the learner's choice; throws the API's error. */
  answer: (pollId: string, choice: number) => Promise<Poll>
}

export function usePolls(sessionId: string, seat: SeatAccess): Polls {
  const [polls, setPolls] = useState<Poll[]>([])
  const onPoll = useCallback((poll: Poll) => setPolls((list) => withPoll(list, poll)), [])
  const { token, renew } = seat

  useEffect(() => {
    let current = true
    api.polls(sessionId, token()).then(
      (answer) => {
        if (current) setPolls((list) => answer.polls.reduce(withPoll, list))
      },
      () => {
        // The next `poll` event brings the open one.
      },
    )
    return () => {
      current = false
    }
  }, [sessionId, token])

  const answer = useCallback(
    async (pollId: string, choice: number) => {
      let seen: Poll
      try {
        seen = await api.answerPoll(sessionId, pollId, choice, token())
      } catch (error) {
        if (!(error instanceof ApiError && error.code === 'unauthorized' && (await renew()))) throw error
        seen = await api.answerPoll(sessionId, pollId, choice, token())
      }
      onPoll(seen)
      return seen
    },
    [sessionId, token, renew, onPoll],
  )

  return { polls, onPoll, answer }
}
