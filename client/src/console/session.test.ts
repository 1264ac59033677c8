import { describe, expect, it } from 'vitest'

import type { Session } from './api'
import { laterStatus, statusCues, withEvent } from './session'

const session: Session = {
  id: 's1',
  title: 'Sauces',
  room_name: 'r',
  join_code: '482913',
  join_url: 'https://estrade.example/join/482913',
  status: 'scheduled',
  teacher_id: 't1',
  floor: { mode: 'moderated', max_speakers: 1, speaking_time_limit_s: null },
  max_learners: 60,
  locked: false,
  created_at: '2026-12-02T09:00:00Z',
  started_at: null,
  ended_at: null,
}

describe('the class’s status', () => {
  it('takes the status and its times from a session event', () => {
    const live = withEvent(session, { id: 's1', status: 'live', started_at: '2026-12-02T10:00:00Z', ended_at: null, end_reason: null })
    expect([live.status, live.started_at, live.title]).toEqual(['live', '2026-12-02T10:00:00Z', 'Sauces'])
    expect(withEvent(session, { id: 'other', status: 'ended', started_at: null, ended_at: null, end_reason: null })).toBe(session)
  })

  it('never goes back: a late answer does not undo an end', () => {
    expect(laterStatus('ended', 'live')).toBe('ended')
    expect(laterStatus('scheduled', 'live')).toBe('live')
    expect(laterStatus('live', 'live')).toBe('live')
  })

  it('says the class live and ended, politely, and nothing on the first view', () => {
    expect(statusCues(null, 'live')).toEqual([])
    expect(statusCues('scheduled', 'live')).toEqual([{ key: 'console.session.live', politeness: 'polite', topic: 'session' }])
    expect(statusCues('live', 'ended')).toEqual([{ key: 'console.session.ended', politeness: 'polite', topic: 'session' }])
    expect(statusCues('live', 'live')).toEqual([])
  })
})
