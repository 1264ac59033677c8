import { describe, expect, it } from 'vitest'

import { openPoll, pollChanges, pollOfEvent, pollToAsk, withPoll, type Poll } from './polls'

const poll = (over: Partial<Poll>): Poll => ({
  id: 'p1',
  session_id: 's',
  question: 'Is the oven hot?',
  choices: ['Yes', 'No'],
  opened_at: '2026-12-04T10:00:00Z',
  closed_at: null,
  results_shown: false,
  ...over,
})

describe('polls', () => {
  it('keeps one copy of each poll, oldest first, and the participant’s own choice across events', () => {
    const mine = withPoll([], poll({ my_choice: 1 }))
    const later = withPoll(mine, poll({ id: 'p0', opened_at: '2026-12-04T09:00:00Z', closed_at: '2026-12-04T09:05:00Z' }))
    expect(later.map((p) => p.id)).toEqual(['p0', 'p1'])
    // The close event carries no own choice: the one known stays.
    const closed = withPoll(later, pollOfEvent({ ...poll({ closed_at: '2026-12-04T10:05:00Z' }), change: 'closed' }))
    expect(closed).toHaveLength(2)
    expect(closed[1]).toMatchObject({ my_choice: 1, closed_at: '2026-12-04T10:05:00Z' })
    expect(closed[1]).not.toHaveProperty('change')
  })

  it('asks the open poll until it is answered or put off, and nothing once it closes', () => {
    const open = [poll({ my_choice: null })]
    expect(pollToAsk(open, new Set())?.id).toBe('p1')
    expect(pollToAsk(open, new Set(['p1']))).toBeUndefined()
    expect(pollToAsk([poll({ my_choice: 0 })], new Set())).toBeUndefined()
    const closed = [poll({ closed_at: '2026-12-04T10:05:00Z' })]
    expect(openPoll(closed)).toBeUndefined()
    expect(pollToAsk(closed, new Set())).toBeUndefined()
  })
})

describe('poll changes', () => {
  it('says a poll opened, closed and shown once each, and not one already closed on arrival', () => {
    const open = [poll({})]
    expect(pollChanges([], open)).toEqual([{ kind: 'opened', poll: open[0] }])
    expect(pollChanges(open, open)).toEqual([])
    const closed = [poll({ closed_at: 'x', results_shown: true })]
    expect(pollChanges(open, closed).map((c) => c.kind)).toEqual(['closed', 'shown'])
    expect(pollChanges([], closed)).toEqual([])
  })
})
