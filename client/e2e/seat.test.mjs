// The learner's seat across what goes wrong: a reload mid-class (same
// participant, no second seat, the sound held back until the learner acts),
// a lost network (reconnecting, then back), a kick (said, and no retry
// loop), and join errors said in a sentence with the focus on the field to
// fix, in both languages. axe in every state.

import assert from 'node:assert/strict'
import { test } from 'node:test'

import { expectAccessible } from './a11y.mjs'
import {
  catalogs,
  classWorld,
  cutLiveKit,
  joinByKeyboard,
  liveAudioTracks,
  openPage,
  ordinal,
  recordApiRequests,
  said,
  tabTo,
  teacherBot,
  teacherVideoPlays,
  until,
} from './harness.mjs'

const { en, fr } = catalogs
const world = classWorld()

/** Estrade's participants of `session` called `name`. */
async function named(session, name) {
  return (await world.estrade.participants(session)).participants.filter((p) => p.name === name)
}

for (const [lang, t] of [
  ['en', en],
  ['fr', fr],
]) {
  test(`a reload mid-class keeps the same participant and seat, and a restored tab waits for the learner to turn on sound (${lang})`, async () => {
    const session = await world.estrade.liveSession()
    await teacherBot(world.estrade, session)
    const page = await openPage(world.browser, { lang })
    await joinByKeyboard(page, world.estrade.link(session), 'Ada', lang)
    await tabTo(page, 'button', t.hand.raise)
    await page.keyboard.press('Enter')
    await said(page, 'status', ordinal(lang, t.floor, 'queued', 1))
    const [first] = await named(session, 'Ada')

    await page.reload()
    await teacherVideoPlays(page, lang)
    await until(async () => (await liveAudioTracks(page)) === 1, { what: 'the sound received' })
    // LiveKit reported the old connection's departure, and a departure
    // lowers the hand (docs/FLOOR.md): the client shows what the floor says.
    const floor = await world.estrade.call('GET', `/v1/sessions/${session.id}/floor`, { token: world.estrade.teacher_key })
    const raised = floor.queue.some((h) => h.participant_id === first.id)
    const toggle = page.getByRole('button', { name: raised ? t.hand.lower : t.hand.raise, exact: true })
    await until(async () => (await toggle.getAttribute('aria-pressed')) === String(raised), {
      what: `the hand toggle showing the floor's ${raised ? 'raised' : 'lowered'} hand`,
    })
    const seats = async () => (await named(session, 'Ada')).map((p) => p.id)
    assert.deepEqual(await seats(), [first.id], 'the same participant, and no second seat')
    await until(async () => (await named(session, 'Ada'))[0].presence === 'present', { what: 'present again' })

    // The browser restores the tab (its sessionStorage) with no action of the
    // learner yet: the browser holds the sound back until they act, and one
    // large focused button says so.
    const storage = await page.evaluate(() => JSON.stringify(sessionStorage))
    await page.context().close()
    // A browser profile that never interacted with this site.
    const restored = await openPage(world.browser, { lang, autoplayBlocked: true })
    await restored.addInitScript((saved) => {
      if (sessionStorage.length === 0) {
        for (const [key, value] of Object.entries(JSON.parse(saved))) sessionStorage.setItem(key, value)
      }
    }, storage)
    await restored.goto(world.estrade.link(session))
    const unlock = restored.getByRole('button', { name: t.sound.turn_on, exact: true })
    await until(() => unlock.evaluate((el) => el === document.activeElement), { what: 'the sound button focused' })
    await said(restored, 'alert', t.sound.blocked)
    await expectAccessible(restored, `sound locked, ${lang}`)
    await restored.keyboard.press('Enter')
    await until(async () => !(await unlock.isVisible()), { what: 'the sound button gone' })
    await until(async () => (await liveAudioTracks(restored)) === 1, { what: 'the sound received' })
    assert.deepEqual(await seats(), [first.id], 'still the same participant')
    await restored.context().close()
  })

  test(`a lost network is said as reconnecting, then as reconnected (${lang})`, async () => {
    const session = await world.estrade.liveSession()
    await teacherBot(world.estrade, session)
    const page = await openPage(world.browser, { lang })
    await joinByKeyboard(page, world.estrade.link(session), 'Ada', lang)

    const restore = cutLiveKit(world.estrade)
    try {
      await said(page, 'alert', t.session.reconnecting, { timeout: 60_000 })
      await expectAccessible(page, `reconnecting, ${lang}`)
    } finally {
      restore()
    }
    await said(page, 'status', t.session.reconnected, { timeout: 30_000 })
    await teacherVideoPlays(page, lang)
    await page.context().close()
    // Estrade's own connections to LiveKit went through the cut too: the
    // next test starts once Estrade sees LiveKit again.
    await until(async () => (await fetch(`${world.estrade.api}/readyz`)).ok, { what: 'Estrade ready again' })
  })

  test(`a kicked learner is told so, and the client stops calling (${lang})`, async () => {
    const session = await world.estrade.liveSession()
    await teacherBot(world.estrade, session)
    const page = await openPage(world.browser, { lang })
    await joinByKeyboard(page, world.estrade.link(session), 'Ada', lang)
    const [me] = await named(session, 'Ada')

    const requests = recordApiRequests(page)
    const kick = () =>
      world.estrade.call('POST', `/v1/sessions/${session.id}/participants/${me.id}/kick`, {
        token: world.estrade.teacher_key,
      })
    // A 503 means LiveKit did not answer in time (it may still be catching
    // up after the previous test's cut): the kick stands, and calling again
    // completes it (API.md). Anything else fails the test.
    await kick().catch((error) => {
      if (!/: 503 /.test(error.message)) throw error
      return kick()
    })
    await until(() => page.getByRole('heading', { name: t.over.kicked_title, exact: true }).isVisible(), {
      what: 'the kicked screen',
    })
    await said(page, 'alert', t.session.kicked)
    await expectAccessible(page, `kicked, ${lang}`)
    const settled = requests.length
    // An absence: watched for 3 s, as long as a retry loop's first retries.
    await new Promise((r) => setTimeout(r, 3_000))
    assert.deepEqual(requests.slice(settled), [], 'no request after the kick')
    await until(async () => (await named(session, 'Ada'))[0].presence !== 'present', { what: 'not present' })
    await page.context().close()
  })
}

for (const [lang, t] of [
  ['en', en],
  ['fr', fr],
]) {
  test(`a wrong code is said in a sentence in ${lang}, with the focus on the code field`, async () => {
    const page = await openPage(world.browser, { lang, width: 320 })
    await page.goto(`${world.estrade.api}/join/000000`)
    const name = page.getByLabel(t.join.name, { exact: true })
    await until(() => name.evaluate((el) => el === document.activeElement), { what: 'the name field focused' })
    await page.keyboard.type('Ada')
    await page.keyboard.press('Enter')
    await said(page, 'alert', t.errors.unknown_code)
    const code = page.getByLabel(t.join.code, { exact: true })
    await until(() => code.evaluate((el) => el === document.activeElement), { what: 'the code field focused' })
    const description = await code.evaluate((el) =>
      (el.getAttribute('aria-describedby') ?? '')
        .split(' ')
        .map((id) => document.getElementById(id))
        .filter((d) => d && d.checkVisibility())
        .map((d) => d.textContent)
        .join(' '),
    )
    assert.ok(description.includes(t.errors.unknown_code), `the field describes its problem: ${description}`)
    assert.equal(await code.getAttribute('aria-invalid'), 'true')
    await expectAccessible(page, `error, ${lang}, 320 px`)
    await page.context().close()
  })
}
