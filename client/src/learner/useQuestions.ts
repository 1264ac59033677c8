// The learner's own typed questions: read once when the classroom opens,
// then kept by the answers to its own requests and the stream's
// `question` events; each one that stops waiting is said once.

import { useCallback, useEffect, useRef, useState } from 'react'

import { useCues } from '../a11y/AnnouncerProvider'
import { ApiError, api, type Question } from '../api/client'
import { questionList, type Questions } from '../live/questions'
import type { SeatAccess } from '../live/useStream'
import { withMine } from './questions'

export interface MyQuestions {
  list: Question[]
  waiting: Question | null
  onQuestion: (q: Question) => void
  /** Sends the question; throws the API's error. */
  ask: (text: string) => Promise<Question>
}

export function useQuestions(sessionId: string, me: string, seat: SeatAccess): MyQuestions {
  const cue = useCues()
  const [questions, setQuestions] = useState<Questions>({})
  const known = useRef<Questions>({})
  const { token, renew } = seat

  const take = useCallback(
    (incoming: readonly Question[]) => {
      const { questions: next, said } = withMine(known.current, incoming, me)
      known.current = next
      setQuestions(next)
      for (const key of said) cue([{ key, politeness: 'polite', topic: 'question' }])
    },
    [me, cue],
  )

  useEffect(() => {
    api.questions(sessionId, token()).then(
      (answer) => take(answer.questions),
      () => {
        // The next event brings what changes.
      },
    )
  }, [sessionId, token, take])

  const onQuestion = useCallback((q: Question) => take([q]), [take])
  const ask = useCallback(
    async (text: string) => {
      let asked: Question
      try {
        asked = await api.ask(sessionId, token(), text)
      } catch (error) {
        if (!(error instanceof ApiError && error.code === 'unauthorized' && (await renew()))) throw error
        asked = await api.ask(sessionId, token(), text)
      }
      take([asked])
      return asked
    },
    [sessionId, token, renew, take],
  )

  const list = questionList(questions)
  return { list, waiting: list.find((q) => q.status === 'waiting') ?? null, onQuestion, ask }
}
