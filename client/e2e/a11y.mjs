// axe-core in the page, with the WCAG 2.2 A and AA rules: a state of the
// client passes only with no violation at all.

import assert from 'node:assert/strict'

import { AxeBuilder } from '@axe-core/playwright'

const TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22a', 'wcag22aa']

export async function expectAccessible(page, state) {
  const results = await new AxeBuilder({ page }).withTags(TAGS).analyze()
  const violations = results.violations.map(
    (v) => `${v.id} (${v.impact}): ${v.help} — ${v.nodes.map((n) => n.target.join(' ')).join('; ')}`,
  )
  assert.deepEqual(violations, [], `axe found violations in the state “${state}”`)
}
