import { describe, expect, it } from 'vitest'

import { clock, concentration, delay, fractions, percent, turns, type Report } from './report'

describe('the report as the console shows it', () => {
  it('says lengths as clocks and shares as whole percentages in each language', () => {
    expect(clock(75)).toBe('01:15')
    expect(clock(null)).toBeNull()
    expect(percent(0.3222, 'en')).toBe('32%')
    // French puts a no-break space before the sign.
    expect(percent(0.3222, 'fr')).toMatch(/^32\s%$/u)
    expect(percent(null, 'en')).toBeNull()
    expect(concentration(0.390625, 'en')).toBe('0.39')
    expect(concentration(0.390625, 'fr')).toBe('0,39')
  })

  it('draws each bar as a fraction of the longest, and no bar when nobody spoke', () => {
    expect(fractions([0, 120, 240])).toEqual([0, 0.5, 1])
    expect(fractions([0, 0])).toEqual([0, 0])
    expect(fractions([])).toEqual([])
  })

  it('names each grant of the timeline and says how long it lasted', () => {
    const report: Report = {
      session: {
        duration_s: 600,
        learner_floor_s: 90,
        teacher_floor_s: 510,
        teacher_share: 0.85,
        learner_share: 0.15,
        learners: 1,
        distinct_speakers: 1,
        hands_raised: 1,
        hands_unanswered: 0,
        questions_asked: 0,
        questions_answered: 0,
        median_wait_s: 5,
        talk_time_gini: 0,
      },
      participants: [
        {
          participant_id: 'a',
          kind: 'learner',
          display_name: 'Ana',
          hands_raised: 1,
          times_granted: 2,
          talk_time_s: 90,
          longest_wait_s: 5,
          median_wait_s: 5,
          hands_unanswered: 0,
          questions_asked: 0,
          questions_answered: 0,
        },
      ],
      timeline: [
        { participant_id: 'a', granted_at: '2026-12-04T10:00:00Z', ended_at: '2026-12-04T10:01:00Z', end_reason: 'released' },
        { participant_id: 'gone', granted_at: '2026-12-04T10:02:00Z', ended_at: null },
        { participant_id: 'a', granted_at: '2026-12-04T10:03:00Z', ended_at: null },
      ],
    }
    expect(turns(report)).toEqual([
      { name: 'Ana', from: '2026-12-04T10:00:00Z', until: '2026-12-04T10:01:00Z', seconds: 60 },
      { name: 'Ana', from: '2026-12-04T10:03:00Z', until: null, seconds: null },
    ])
  })
})

describe('start-up delays', () => {
  it('are written in seconds, to one decimal, in the language', () => {
    expect(delay(4.25, 'en')).toBe('4.3 sec')
    expect(delay(null, 'fr')).toBeNull()
    expect(delay(undefined, 'en')).toBeNull()
  })
})
