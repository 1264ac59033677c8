// The checks of the two forms that set a class's floor: the new class
// (title, floor, most learners) on the list page, and the floor's settings
// on the class page. Made before asking the server, which applies the same
// limits (crates/core domain::limits); a problem the server finds anyway
// (422) is put next to its field when it says which. Pure.

import type { ApiError, FloorMode } from '../api/client'
import type { MessageKey } from '../i18n'
import type { FloorSettings, NewSession } from './api'

export const LIMITS = {
  titleChars: 200,
  maxSpeakers: 16,
  timeLimitS: { min: 5, max: 3600 },
  maxLearners: 1000,
} as const

export const FLOOR_MODES: readonly FloorMode[] = ['moderated', 'open', 'closed']

/** What the floor fields hold, as typed. */
export interface FloorInput {
  mode: FloorMode
  maxSpeakers: string
  /** Empty for no limit. */
  timeLimit: string
}

export interface ClassInput extends FloorInput {
  title: string
  maxLearners: string
}

export type FloorField = 'max_speakers' | 'speaking_time_limit_s'
export type ClassField = 'title' | FloorField | 'max_learners'

export interface Problem<F extends string> {
  field: F
  key: MessageKey
}

export const FIELD_KEYS: Record<ClassField, MessageKey> = {
  title: 'console.form.invalid_title',
  max_speakers: 'console.form.invalid_max_speakers',
  speaking_time_limit_s: 'console.form.invalid_time_limit',
  max_learners: 'console.form.invalid_max_learners',
}

const problem = <F extends ClassField>(field: F): Problem<F> => ({ field, key: FIELD_KEYS[field] })

/** A whole number typed in a field, or null (empty, decimals, letters). */
function whole(typed: string): number | null {
  const text = typed.trim()
  if (!/^\d+$/.test(text)) return null
  const n = Number(text)
  return Number.isSafeInteger(n) ? n : null
}

export function isProblem<F extends string, T extends object>(result: T | Problem<F>): result is Problem<F> {
  return 'field' in result && 'key' in result
}

/** The floor settings to send, or the first field to fix. */
export function checkFloor(input: FloorInput): FloorSettings | Problem<FloorField> {
  const speakers = whole(input.maxSpeakers)
  if (speakers === null || speakers < 1 || speakers > LIMITS.maxSpeakers) return problem('max_speakers')
  let limit: number | null = null
  if (input.timeLimit.trim() !== '') {
    limit = whole(input.timeLimit)
    if (limit === null || limit < LIMITS.timeLimitS.min || limit > LIMITS.timeLimitS.max) {
      return problem('speaking_time_limit_s')
    }
  }
  return { mode: input.mode, max_speakers: speakers, speaking_time_limit_s: limit }
}

/** The new class to create, or the first field to fix (in the form's order). */
export function checkClass(input: ClassInput): NewSession | Problem<ClassField> {
  const title = input.title.trim()
  if (title.length === 0 || [...title].length > LIMITS.titleChars) return problem('title')
  const floor = checkFloor(input)
  if (isProblem(floor)) return floor
  const learners = whole(input.maxLearners)
  if (learners === null || learners < 1 || learners > LIMITS.maxLearners) return problem('max_learners')
  return { title, floor, max_learners: learners }
}

/** The values the floor fields show for settings. */
export function floorInput(settings: FloorSettings): FloorInput {
  return {
    mode: settings.mode,
    maxSpeakers: String(settings.max_speakers),
    timeLimit: settings.speaking_time_limit_s === null ? '' : String(settings.speaking_time_limit_s),
  }
}

const FIELDS: readonly ClassField[] = ['title', 'max_speakers', 'speaking_time_limit_s', 'max_learners']

/** The field a 422 is about: the one `details.field` names, else the one its code or sentence names. */
export function serverField(error: ApiError): ClassField | null {
  if (error.status !== 422) return null
  const named = error.details?.field
  if (typeof named === 'string' && (FIELDS as readonly string[]).includes(named)) return named as ClassField
  switch (error.code) {
    case 'invalid_title':
      return 'title'
    case 'invalid_max_learners':
      return 'max_learners'
    case 'invalid_floor':
      // One code for both limits; the server's sentence starts with the field's name.
      if (error.serverMessage.startsWith('speaking_time_limit_s')) return 'speaking_time_limit_s'
      if (error.serverMessage.startsWith('max_speakers')) return 'max_speakers'
      return null
    default:
      return null
  }
}
