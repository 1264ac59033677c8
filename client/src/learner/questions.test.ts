import { describe, expect, it } from 'vitest'

import type { Question } from '../api/client'
import { charactersLeft, prepareQuestion, statusKey, withMine } from './questions'

const q = (over: Partial<Question>): Question => ({
  id: 'q1',
  session_id: 's',
  participant_id: 'me',
  name: 'Ada',
  text: 'Why salt?',
  asked_at: '2026-12-04T10:00:00Z',
  status: 'waiting',
  answered_with_floor: false,
  ended_at: null,
  ...over,
})

describe('the learner’s questions', () => {
  it('sends one trimmed paragraph and counts what is left', () => {
    expect(prepareQuestion('  Why\nsalt\r\n\tthe water? ')).toBe('Why salt the water?')
    expect(charactersLeft('abc')).toBe(497)
    expect(charactersLeft('a'.repeat(600))).toBe(0)
  })

  it('says once that a waiting question was answered, and keeps only its own', () => {
    const first = withMine({}, [q({}), q({ id: 'other', participant_id: 'bea' })], 'me')
    expect(Object.keys(first.questions)).toEqual(['q1'])
    expect(first.said).toEqual([])
    const answered = withMine(first.questions, [q({ status: 'answered', ended_at: 'x' })], 'me')
    expect(answered.said).toEqual(['questions.said_answered'])
    // A late copy saying it still waits does not take the answer back.
    const late = withMine(answered.questions, [q({})], 'me')
    expect(late.said).toEqual([])
    expect(late.questions.q1?.status).toBe('answered')
    const floor = withMine(first.questions, [q({ status: 'answered', answered_with_floor: true })], 'me')
    // The floor's "you have the floor" says that one.
    expect(floor.said).toEqual([])
    expect(statusKey(floor.questions.q1 ?? q({}))).toBe('questions.status.answered_floor')
  })

  it('says a dismissed, withdrawn or closed question in its own words', () => {
    const waiting = withMine({}, [q({})], 'me').questions
    expect(withMine(waiting, [q({ status: 'dismissed' })], 'me').said).toEqual(['questions.said_dismissed'])
    expect(withMine(waiting, [q({ status: 'withdrawn' })], 'me').said).toEqual(['questions.said_withdrawn'])
    expect(withMine(waiting, [q({ status: 'closed' })], 'me').said).toEqual(['questions.said_closed'])
    expect(statusKey(q({ status: 'dismissed' }))).toBe('questions.status.dismissed')
  })
})
