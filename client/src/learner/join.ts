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

// Characters that change how a name shows without showing themselves (the
// server's list, crates/core/src/domain.rs): bidirectional controls,
// zero-width spaces, the byte-order mark, invisible operators, fillers,
// tag characters; and control characters.
const HIDDEN =
  /[\p{Cc}\u061C\u180E\u200B\u200E\u200F\u202A-\u202E\u2060-\u2064\u2066-\u206F\u115F\u1160\u3164\uFFA0\uFEFF\u{E0000}-\u{E007F}]/u

/** A zero-width joiner or non-joiner not between two visible characters. */
function misplacedJoiner(chars: string[]): boolean {
  const visible = (c: string | undefined) =>
    c !== undefined && !/\s/u.test(c) && c !== '\u200C' && c !== '\u200D'
  return chars.some(
    (c, i) => (c === '\u200C' || c === '\u200D') && !(visible(chars[i - 1]) && visible(chars[i + 1])),
  )
}

/** Whether a name holds a character that would hide or disguise it. */
export function hasHiddenCharacter(name: string): boolean {
  return HIDDEN.test(name) || misplacedJoiner([...name])
}

/** The request to send, or the first field to fix. */
export function checkJoin(input: JoinInput): JoinRequest | JoinProblem {
  const code = normalizeCode(input.code)
  if (!/^\d{6}$/.test(code)) return { field: 'code', key: 'errors.invalid_code' }
  // One spelling, as the server stores it: "e" + U+0301 counts as one "é".
  const name = input.name.trim().normalize('NFC')
  if (name.length === 0 || [...name].length > MAX_NAME) {
    return { field: 'name', key: 'errors.invalid_name' }
  }
  if (hasHiddenCharacter(name)) return { field: 'name', key: 'errors.hidden_name' }
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
