// The join form's checks, made before asking the server so that a typo
// costs no request (a wrong code counts against the address's rate limit).
// The server applies the same rules.

import type { JoinField, JoinRequest } from '../api/client'
import type { MessageKey } from '../i18n'

export interface JoinInput {
  code: string
  name: string
  classroom: boolean
  headcount: string
}

export interface JoinProblem {
  field: JoinField
  key: MessageKey
}

/** The six digits of a code typed with spaces or dashes ("482 913", "482-913"). */
export function normalizeCode(typed: string): string {
  return typed.replace(/[\s\u00a0\u202f-]/g, '')
}

export const MAX_NAME = 64
export const MAX_HEADCOUNT = 500

/** The request to send, or the first field to fix. */
export function checkJoin(input: JoinInput): JoinRequest | JoinProblem {
  const code = normalizeCode(input.code)
  if (!/^\d{6}$/.test(code)) return { field: 'code', key: 'errors.invalid_code' }
  const name = input.name.trim()
  if (name.length === 0 || [...name].length > MAX_NAME) {
    return { field: 'name', key: 'errors.invalid_name' }
  }
  if (!input.classroom) return { code, name, kind: 'learner' }
  const headcount = Number(input.headcount.trim())
  if (!Number.isInteger(headcount) || headcount < 1 || headcount > MAX_HEADCOUNT) {
    return { field: 'headcount', key: 'errors.invalid_headcount' }
  }
  return { code, name, kind: 'classroom', headcount }
}

export function isProblem(result: JoinRequest | JoinProblem): result is JoinProblem {
  return 'field' in result
}
