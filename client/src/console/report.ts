// The fairness report of a class, as GET /v1/sessions/{id}/report answers
// it, and what the console shows of it: shares as percentages, lengths as
// clocks, bars as fractions of the longest, each grant with its name.

import { formatClock } from './hands'
import type { ParticipantKind } from './api'

export interface ParticipantFigures {
  participant_id: string
  kind: ParticipantKind
  display_name: string
  headcount?: number
  hands_raised: number
  times_granted: number
  talk_time_s: number
  longest_wait_s: number | null
  median_wait_s: number | null
  hands_unanswered: number
  questions_asked: number
  questions_answered: number
}

export interface SessionFigures {
  duration_s: number
  learner_floor_s: number
  teacher_floor_s: number
  teacher_share: number | null
  learner_share: number | null
  learners: number
  distinct_speakers: number
  hands_raised: number
  hands_unanswered: number
  questions_asked: number
  questions_answered: number
  median_wait_s: number | null
  talk_time_gini: number | null
}

export interface TimelineEntry {
  participant_id: string
  granted_at: string
  ended_at: string | null
  end_reason?: string
}

/** How long the class took to come up (from LiveKit's webhooks). */
export interface Startup {
  teacher_first_track_s: number | null
  learners_connected: number
  learner_connect_median_s: number | null
  learner_connect_max_s: number | null
}

export interface Report {
  session: SessionFigures
  participants: ParticipantFigures[]
  timeline: TimelineEntry[]
  /** Absent from a server older than the start-up figures. */
  startup?: Startup
}

/** A delay in seconds, to one decimal in the language ("4.2 s"); null stays null. */
export function delay(seconds: number | null | undefined, lang: string): string | null {
  if (seconds === null || seconds === undefined) return null
  return new Intl.NumberFormat(lang, { style: 'unit', unit: 'second', maximumFractionDigits: 1 }).format(seconds)
}

/** A length in seconds as "mm:ss"; null stays null (nothing to show). */
export function clock(seconds: number | null): string | null {
  return seconds === null ? null : formatClock(seconds * 1000)
}

/** A share (0–1) as a whole percentage in `lang`; null stays null. */
export function percent(share: number | null, lang: string): string | null {
  if (share === null) return null
  return new Intl.NumberFormat(lang, { style: 'percent', maximumFractionDigits: 0 }).format(share)
}

/** The Gini coefficient with two decimals in `lang`; null stays null. */
export function concentration(gini: number | null, lang: string): string | null {
  if (gini === null) return null
  return new Intl.NumberFormat(lang, { minimumFractionDigits: 2, maximumFractionDigits: 2 }).format(gini)
}

/** Each value as a fraction (0–1) of the largest; all 0 when none is above 0. */
export function fractions(values: readonly number[]): number[] {
  const largest = Math.max(0, ...values)
  return values.map((v) => (largest > 0 ? Math.max(0, v) / largest : 0))
}

/** A grant on the timeline, with the name of whoever had the floor and for how long. */
export interface Turn {
  name: string
  from: string
  until: string | null
  seconds: number | null
}

/** The timeline's grants with names; a participant the report does not list is left out. */
export function turns(report: Report): Turn[] {
  const names = new Map(report.participants.map((p) => [p.participant_id, p.display_name]))
  return report.timeline.flatMap((e) => {
    const name = names.get(e.participant_id)
    if (name === undefined) return []
    const seconds = e.ended_at === null ? null : Math.max(0, (Date.parse(e.ended_at) - Date.parse(e.granted_at)) / 1000)
    return [{ name, from: e.granted_at, until: e.ended_at, seconds }]
  })
}
