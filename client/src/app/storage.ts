// What any page keeps in the browser goes through here. Storage can be
// unavailable (private modes, policies) or refuse a write (full): then
// nothing is kept and nothing fails. The language chosen is a preference,
// kept in localStorage; the learner's seat and shortcuts preference are in
// learner/storage.ts.

const LANGUAGE = 'estrade.language'

/** This tab's sessionStorage, or null where the browser withholds it. */
export function session(): Storage | null {
  try {
    return window.sessionStorage
  } catch {
    return null
  }
}

/** This device's localStorage, or null where the browser withholds it. */
export function local(): Storage | null {
  try {
    return window.localStorage
  } catch {
    return null
  }
}

/** The value under `key`, or null (none, or storage failing). */
export function read(storage: Storage | null, key: string): string | null {
  try {
    return storage?.getItem(key) ?? null
  } catch {
    return null
  }
}

/** Stores `value` under `key` (null removes it); a refusal is ignored. */
export function write(storage: Storage | null, key: string, value: string | null): void {
  try {
    if (value === null) storage?.removeItem(key)
    else storage?.setItem(key, value)
  } catch {
    // Full or refused: the client works without it.
  }
}

export function loadLanguage(storage = local()): string | null {
  return read(storage, LANGUAGE)
}

export function saveLanguage(language: string, storage = local()): void {
  write(storage, LANGUAGE, language)
}
