import { describe, expect, it } from 'vitest'

import en from './en.json'
import fr from './fr.json'
import { pickLanguage } from './index'

const CATALOGS = { en, fr } as const

function flatten(node: unknown, prefix = ''): Record<string, unknown> {
  if (typeof node !== 'object' || node === null) return { [prefix]: node }
  return Object.entries(node).reduce<Record<string, unknown>>(
    (all, [k, v]) => ({ ...all, ...flatten(v, prefix ? `${prefix}.${k}` : k) }),
    {},
  )
}

const PLURAL = /_(ordinal_)?(zero|one|two|few|many|other)$/

/** Keys with their plural forms folded: base key → forms present (empty when not plural). */
function groups(catalog: object): Map<string, { ordinal: boolean; forms: Set<string> }> {
  const out = new Map<string, { ordinal: boolean; forms: Set<string> }>()
  for (const key of Object.keys(flatten(catalog))) {
    const m = PLURAL.exec(key)
    const base = m ? key.slice(0, m.index) : key
    const group = out.get(base) ?? { ordinal: Boolean(m?.[1]), forms: new Set<string>() }
    if (m?.[2]) group.forms.add(m[2])
    out.set(base, group)
  }
  return out
}

const variables = (text: string) => [...text.matchAll(/{{\s*(\w+)/g)].map((m) => m[1] ?? '').sort()

describe('the catalogs', () => {
  it('have the same keys in French and English', () => {
    expect([...groups(fr).keys()].sort()).toEqual([...groups(en).keys()].sort())
  })

  it.each(Object.entries(CATALOGS))('%s has no empty or non-text value', (_lang, catalog) => {
    for (const [key, value] of Object.entries(flatten(catalog))) {
      expect(typeof value, key).toBe('string')
      expect((value as string).trim(), key).not.toBe('')
    }
  })

  it.each(Object.entries(CATALOGS))('%s has every plural form its language needs', (lang, catalog) => {
    for (const [base, group] of groups(catalog)) {
      if (group.forms.size === 0) continue
      const needed = new Intl.PluralRules(lang, { type: group.ordinal ? 'ordinal' : 'cardinal' }).resolvedOptions()
        .pluralCategories
      expect([...group.forms].sort(), base).toEqual([...needed].sort())
    }
  })

  it('use the same placeholders in both languages', () => {
    const frFlat = flatten(fr)
    const enFlat = flatten(en)
    const byBase = (flat: Record<string, unknown>) => {
      const out = new Map<string, string[]>()
      for (const [key, value] of Object.entries(flat)) {
        const base = key.replace(PLURAL, '')
        out.set(base, [...new Set([...(out.get(base) ?? []), ...variables(String(value))])].sort())
      }
      return out
    }
    const frVars = byBase(frFlat)
    for (const [base, vars] of byBase(enFlat)) expect(frVars.get(base), base).toEqual(vars)
  })
})

describe('the language', () => {
  it('is the learner’s choice, else the first browser language we have, else French', () => {
    expect(pickLanguage('en', ['fr-FR'])).toBe('en')
    expect(pickLanguage(null, ['de-DE', 'en-GB', 'fr'])).toBe('en')
    expect(pickLanguage(null, ['FR-ca'])).toBe('fr')
    expect(pickLanguage('xx', ['es'])).toBe('fr')
    expect(pickLanguage(null, [])).toBe('fr')
  })
})
