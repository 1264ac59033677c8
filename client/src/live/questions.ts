// Typed questions as the page knows them: the list read once
// (`GET …/questions`), the answers to the page's own requests and the
// stream's `question` events, merged by id. The list, the answers and the
// stream travel apart, so any of them can be late: a question that has
// stopped waiting never goes back to waiting, whichever source says so
// last. Pure; shared by the learner (its own questions) and the console
// (every question of the class).

import type { Question } from '../api/client'

/** Questions by id. */
export type Questions = Readonly<Record<string, Question>>

/** The newer of two views of one question: an ended one stays ended. */
function newer(known: Question | undefined, incoming: Question): Question {
  if (known === undefined) return incoming
  if (known.status !== 'waiting' && incoming.status === 'waiting') return known
  return incoming
}

/** `known` with `incoming` merged in; the same object when nothing changed. */
export function mergeQuestions(known: Questions, incoming: readonly Question[]): Questions {
  let merged: Record<string, Question> | null = null
  for (const q of incoming) {
    const before = (merged ?? known)[q.id]
    const next = newer(before, q)
    if (before !== undefined && same(before, next)) continue
    merged ??= { ...known }
    merged[q.id] = next
  }
  return merged ?? known
}

function same(a: Question, b: Question): boolean {
  return (
    a.status === b.status &&
    a.text === b.text &&
    a.name === b.name &&
    a.answered_with_floor === b.answered_with_floor &&
    a.ended_at === b.ended_at
  )
}

/** Oldest first, as the API lists them. */
export function questionList(questions: Questions): Question[] {
  return Object.values(questions).sort((a, b) => Date.parse(a.asked_at) - Date.parse(b.asked_at) || a.id.localeCompare(b.id))
}
