// The learner's typed questions: what is sent of what was typed (one
// paragraph: line breaks become spaces), how many characters are left,
// and what to say when one of its questions stops waiting. Pure.

import type { Question, QuestionStatus } from '../api/client'
import type { MessageKey } from '../i18n'
import { mergeQuestions, type Questions } from '../live/questions'

/** Most characters in a question (the field's maxlength, never more than the API's 500). */
export const MAX_QUESTION_CHARS = 500

/** The text to send for what was typed: line breaks and tabs as spaces, trimmed. */
export function prepareQuestion(typed: string): string {
  return typed.replace(/[\t\n\v\f\r\u0085\u2028\u2029]+/gu, ' ').trim()
}

export function charactersLeft(typed: string): number {
  return Math.max(0, MAX_QUESTION_CHARS - typed.length)
}

/** Where a question stands, in words. */
export function statusKey(q: Question): MessageKey {
  if (q.status === 'answered' && q.answered_with_floor) return 'questions.status.answered_floor'
  return STATUS[q.status]
}

const STATUS: Record<QuestionStatus, MessageKey> = {
  waiting: 'questions.status.waiting',
  answered: 'questions.status.answered',
  dismissed: 'questions.status.dismissed',
  withdrawn: 'questions.status.withdrawn',
  closed: 'questions.status.closed',
}

const ENDED: Record<Exclude<QuestionStatus, 'waiting'>, MessageKey> = {
  answered: 'questions.said_answered',
  dismissed: 'questions.said_dismissed',
  withdrawn: 'questions.said_withdrawn',
  closed: 'questions.said_closed',
}

/** `known` with `incoming` (the learner's own) merged, and what to say of each that stopped waiting
 * (the floor says nothing then: live/floor.ts). */
export function withMine(known: Questions, incoming: readonly Question[], me: string): { questions: Questions; said: MessageKey[] } {
  const questions = mergeQuestions(
    known,
    incoming.filter((q) => q.participant_id === me),
  )
  const said: MessageKey[] = []
  for (const q of Object.values(questions)) {
    const before = known[q.id]
    // Answered with the floor: the floor's own "you have the floor" says it.
    if (before?.status === 'waiting' && q.status !== 'waiting' && !q.answered_with_floor) said.push(ENDED[q.status])
  }
  return { questions, said }
}
