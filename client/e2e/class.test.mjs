// Two learners on narrow screens (320 px), in each language: both queue, both see
// their places change, the first is granted and the second hears her; the
// teacher ends the class and both clients stop. axe in every state.

import assert from 'node:assert/strict'
import { test } from 'node:test'

import { expectAccessible } from './a11y.mjs'
import {
  catalogs,
  classWorld,
  fill,
  joinByKeyboard,
  liveAudioTracks,
  openPage,
  ordinal,
  recordApiRequests,
  said,
  tabTo,
  teacherBot,
  until,
} from './harness.mjs'

const world = classWorld()

for (const [lang, t] of Object.entries(catalogs)) {
  test(`two learners queue at 320 px in ${lang}, the second hears the first speak, and both stop when the class ends`, async () => {
    const session = await world.estrade.liveSession()
    const teacher = await teacherBot(world.estrade, session)
    const ada = await openPage(world.browser, { lang, width: 320 })
    const bea = await openPage(world.browser, { lang, width: 320 })

    await ada.goto(world.estrade.link(session))
    await expectAccessible(ada, `join, ${lang}, 320 px`)
    await joinByKeyboard(ada, world.estrade.link(session), 'Ada', lang)
    await joinByKeyboard(bea, world.estrade.link(session), 'Bea', lang)
    await expectAccessible(bea, `watching, ${lang}, 320 px`)
    const htmlLang = await ada.evaluate(() => document.documentElement.lang)
    assert.equal(htmlLang, lang, '<html lang> follows the language')

    // Both raise their hands: 1st and 2nd in line, said and shown.
    for (const [page, place] of [
      [ada, 1],
      [bea, 2],
    ]) {
      await tabTo(page, 'button', t.hand.raise)
      await page.keyboard.press('Enter')
      await said(page, 'status', ordinal(lang, t.floor, 'queued', place))
      await until(() => page.getByText(ordinal(lang, t.hand, 'position', place), { exact: true }).isVisible(), {
        what: `place ${place} shown`,
      })
    }
    await expectAccessible(bea, `queued, ${lang}, 320 px`)

    // The teacher gives the floor to the next in line: Ada. Bea moves up.
    await world.estrade.call('POST', `/v1/sessions/${session.id}/floor/grant`, { token: world.estrade.teacher_key, body: {} })
    await said(ada, 'alert', t.floor.granted, { timeout: 5_000 })
    await said(bea, 'status', ordinal(lang, t.floor, 'moved', 1))
    await expectAccessible(ada, `granted, ${lang}, 320 px`)

    // Ada opens her microphone: Bea receives it and sees her talking.
    await tabTo(ada, 'button', t.mic.open)
    await ada.keyboard.press('Enter')
    await said(ada, 'status', t.mic.live)
    await until(async () => (await liveAudioTracks(bea)) === 2, { what: "Bea receiving Ada's microphone" })
    const talking = fill(t.speakers.talking, { names: '' }).trim()
    await until(
      async () => {
        const lines = await bea.getByText(talking).allTextContents()
        return lines.some((line) => line.includes('Ada'))
      },
      { what: 'Bea seeing Ada talking (LiveKit heard her)' },
    )
    await expectAccessible(ada, `speaking, ${lang}, 320 px`)

    // The teacher ends the class: both say so, and neither keeps calling.
    const requests = recordApiRequests(bea)
    await world.estrade.call('POST', `/v1/sessions/${session.id}/end`, { token: world.estrade.teacher_key })
    for (const page of [ada, bea]) {
      await until(() => page.getByRole('heading', { name: t.over.ended_title, exact: true }).isVisible(), {
        what: 'the ended screen',
      })
      await said(page, 'alert', t.session.ended)
    }
    await expectAccessible(bea, `ended, ${lang}, 320 px`)
    const settled = requests.length
    // An absence: watched for 3 s, as long as a retry loop's first retries.
    await new Promise((r) => setTimeout(r, 3_000))
    assert.deepEqual(requests.slice(settled), [], 'no request after the class ended')
    teacher.stop()
  })
}
