// The class's typed questions as the console knows them: read once when the
// class opens, then kept by the stream's `question` events and the answers
// to the teacher's own commands (merged by id, live/questions.ts).

import { useCallback, useEffect, useState } from 'react'

import type { Question } from '../api/client'
import { mergeQuestions, type Questions } from '../live/questions'
import type { ConsoleApi } from './api'

export function useClassQuestions(api: ConsoleApi, sessionId: string): [Questions, (incoming: readonly Question[]) => void] {
  const [questions, setQuestions] = useState<Questions>({})
  const take = useCallback((incoming: readonly Question[]) => setQuestions((known) => mergeQuestions(known, incoming)), [])
  useEffect(() => {
    api.questions(sessionId).then(
      (answer) => take(answer.questions),
      () => {
        // The stream's events bring each question as it changes.
      },
    )
  }, [api, sessionId, take])
  return [questions, take]
}
