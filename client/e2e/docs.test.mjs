// The API reference (/docs) in a real Chromium against a real Estrade:
// it renders the OpenAPI document, and sends a test request, with every
// request on Estrade's own origin (Scalar's script included: no CDN, no
// fonts or request proxy of Scalar's) and no Content-Security-Policy
// violation.

import assert from 'node:assert/strict'
import { test, after, before } from 'node:test'

import { launchBrowser, startEstrade } from './harness.mjs'

const world = { estrade: null, browser: null }
before(async () => {
  world.estrade = await startEstrade()
  world.browser = await launchBrowser()
})
after(async () => {
  await world.browser?.close()
  await world.estrade?.stop()
})

test('the API reference renders and sends a test request with every request on its own origin and no policy violation', async () => {
  const origin = new URL(world.estrade.api).origin
  const context = await world.browser.newContext()
  await context.addInitScript(() => {
    window.__violations = []
    document.addEventListener('securitypolicyviolation', (e) => {
      window.__violations.push(`${e.effectiveDirective} ${e.blockedURI}`)
    })
  })
  const page = await context.newPage()
  const requests = []
  page.on('request', (request) => requests.push(request.url()))
  const errors = []
  page.on('pageerror', (error) => errors.push(`page error: ${error.message}`))
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(`console: ${message.text()}`)
  })

  const answer = await page.goto(`${origin}/docs`)
  assert.equal(answer.status(), 200)
  // The document's title, and one of its operations.
  await page.getByRole('heading', { name: 'Estrade', exact: true }).first().waitFor()
  await page.getByText('/healthz', { exact: true }).first().waitFor()
  // A test request goes straight to Estrade, not through Scalar's proxy.
  await page.getByRole('button', { name: /Test Request/ }).first().click()
  await page.getByRole('button', { name: /^Send/ }).first().click()
  await page.getByText('200 OK', { exact: true }).first().waitFor()
  assert.ok(requests.includes(`${origin}/healthz`), `the test request: ${requests}`)
  await page.waitForLoadState('networkidle')

  const elsewhere = requests.filter((url) => !url.startsWith('data:') && new URL(url).origin !== origin)
  assert.deepEqual(elsewhere, [], 'requests that left the origin')
  assert.ok(requests.includes(`${origin}/docs/scalar.js`), `Scalar's script from Estrade: ${requests}`)
  assert.ok(requests.includes(`${origin}/openapi.json`), `the document from Estrade: ${requests}`)
  assert.deepEqual(await page.evaluate(() => window.__violations), [], 'policy violations')
  assert.deepEqual(errors, [], 'errors on the page')
  await context.close()
})
