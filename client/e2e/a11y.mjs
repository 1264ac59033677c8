// axe-core in the page, with the WCAG 2.2 A and AA rules: a state of the
// client passes only with no violation at all. With ESTRADE_SCREENSHOTS set
// to a folder, each state checked is also saved there as a PNG (the
// pictures of docs/CLIENT.md come from such a run).

import assert from 'node:assert/strict'
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'

import { AxeBuilder } from '@axe-core/playwright'

const TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22a', 'wcag22aa']

export async function expectAccessible(page, state) {
  const folder = process.env.ESTRADE_SCREENSHOTS
  if (folder) {
    mkdirSync(folder, { recursive: true })
    const name = state.replace(/[^a-z0-9]+/gi, '-').replace(/^-|-$/g, '').toLowerCase()
    await page.screenshot({ path: join(folder, `client-${name}.png`), fullPage: true })
  }
  const results = await new AxeBuilder({ page }).withTags(TAGS).analyze()
  const violations = results.violations.map(
    (v) => `${v.id} (${v.impact}): ${v.help} — ${v.nodes.map((n) => n.target.join(' ')).join('; ')}`,
  )
  assert.deepEqual(violations, [], `axe found violations in the state “${state}”`)
}
