// A learner's whole class, by keyboard only (no mouse call anywhere), in a
// real Chromium against a real Estrade and the real LiveKit: open the link,
// type a name, Enter; watch and hear the teacher; raise a hand; speak when
// the teacher grants the floor; lose the microphone at the revoke; leave.
// What is asserted is what the browser plays and announces, what LiveKit
// sees, and what Estrade holds.

import assert from 'node:assert/strict'
import { test } from 'node:test'

import { expectAccessible } from './a11y.mjs'
import {
  catalogs,
  classWorld,
  liveAudioTracks,
  openPage,
  ordinal,
  said,
  saidSoFar,
  tabTo,
  teacherBot,
  teacherVideoPlays,
  until,
} from './harness.mjs'

const world = classWorld()

/** The learner's LiveKit participant, as LiveKit itself lists it. */
async function inLiveKit(session, identity) {
  const participants = await world.estrade.rooms.listParticipants(session.room_name)
  return participants.find((p) => p.identity === identity)
}

/** Whether LiveKit lists a published microphone for `identity`. */
async function microphoneInLiveKit(session, identity) {
  const participant = await inLiveKit(session, identity)
  // TrackSource.MICROPHONE is 2 in LiveKit's protocol.
  return Boolean(participant?.tracks.some((t) => t.source === 2))
}

for (const lang of ['en', 'fr']) {
  test(`a learner joins by keyboard in ${lang}, watches and hears the teacher, speaks when granted and is cut at the revoke`, async () => {
    const t = catalogs[lang]
    const session = await world.estrade.liveSession()
    const teacher = await teacherBot(world.estrade, session)
    const page = await openPage(world.browser, { lang })

    // Open the link: the code is filled in, the focus is on the name.
    await page.goto(world.estrade.link(session))
    const name = page.getByLabel(t.join.name, { exact: true })
    await until(() => name.evaluate((el) => el === document.activeElement), { what: 'the name field focused' })
    const firstInTabOrder = await page.evaluate(() => {
      const focusable = document.querySelectorAll('a[href], button, input, select, textarea, [tabindex]')
      const first = [...focusable].find((el) => el.tabIndex >= 0 && !el.disabled && el.checkVisibility())
      return first?.textContent?.trim()
    })
    assert.equal(firstInTabOrder, t.language.switch, 'the language switch comes first')
    await expectAccessible(page, `join, ${lang}`)
    await page.keyboard.type('Ada')
    await page.keyboard.press('Enter')

    // The teacher's camera plays, frames advance, and the sound is received.
    await teacherVideoPlays(page, lang)
    await until(async () => (await liveAudioTracks(page)) === 1, { what: "the teacher's microphone received" })
    await said(page, 'status', t.session.live)
    await expectAccessible(page, `watching, ${lang}`)

    const me = (await world.estrade.participants(session)).participants.find((p) => p.name === 'Ada')
    assert.ok(me, 'Estrade lists the learner')
    await until(async () => Boolean(await inLiveKit(session, me.identity)), {
      what: 'the learner in LiveKit',
    })

    // Raise the hand: the toggle is pressed and the place in line is said.
    await tabTo(page, 'button', t.hand.raise)
    await page.keyboard.press('Enter')
    const lower = page.getByRole('button', { name: t.hand.lower, exact: true })
    await until(async () => (await lower.getAttribute('aria-pressed')) === 'true', { what: 'the hand raised' })
    await said(page, 'status', ordinal(lang, t.floor, 'queued', 1))
    await expectAccessible(page, `queued, ${lang}`)

    // The teacher grants the floor: said at once (assertively), with its cue.
    const playsBefore = await page.evaluate(() => window.__plays.length)
    await world.estrade.call('POST', `/v1/sessions/${session.id}/floor/grant`, {
      token: world.estrade.teacher_key,
      body: { participant_id: me.id },
    })
    await said(page, 'alert', t.floor.granted, { timeout: 5_000 })
    const plays = await page.evaluate(() => window.__plays)
    assert.ok(
      plays.slice(playsBefore).some((src) => src.startsWith('data:audio/wav')),
      `the grant's sound was played: ${plays}`,
    )
    await expectAccessible(page, `granted, ${lang}`)

    // Open the microphone: the teacher hears the learner, LiveKit lists it.
    await tabTo(page, 'button', t.mic.open)
    await page.keyboard.press('Enter')
    await said(page, 'status', t.mic.live)
    await teacher.wait((e) => e.event === 'frames' && e.from === me.identity && e.kind === 'microphone')
    await until(() => microphoneInLiveKit(session, me.identity), { what: 'LiveKit listing the microphone' })
    await expectAccessible(page, `speaking, ${lang}`)

    // The teacher revokes: said, the track really stops, LiveKit lists none.
    await world.estrade.call('POST', `/v1/sessions/${session.id}/floor/revoke`, {
      token: world.estrade.teacher_key,
      body: { participant_id: me.id },
    })
    await said(page, 'alert', t.floor.revoked, { timeout: 5_000 })
    await until(async () => !(await microphoneInLiveKit(session, me.identity)), {
      what: 'LiveKit listing no microphone for the learner',
    })
    await teacher.wait((e) => e.event === 'track_gone' && e.from === me.identity && e.kind === 'microphone')
    const focused = await page.evaluate(() => document.activeElement?.tagName)
    assert.notEqual(focused, 'BODY', 'the focus went somewhere sensible, not to the page')
    await expectAccessible(page, `revoked, ${lang}`)

    // Messages were spaced for screen readers.
    const messages = await saidSoFar(page)
    for (const role of ['status', 'alert']) {
      const times = messages.filter((m) => m.role === role).map((m) => m.at)
      for (let i = 1; i < times.length; i++) {
        assert.ok(times[i] - times[i - 1] >= 300, `${role} messages ${i - 1} and ${i} are ${times[i] - times[i - 1]} ms apart`)
      }
    }

    // Leave.
    await tabTo(page, 'button', t.class.leave)
    await page.keyboard.press('Enter')
    await until(() => page.getByRole('heading', { name: t.over.left_title, exact: true }).isVisible(), {
      what: 'the left screen',
    })
    await until(async () => !(await inLiveKit(session, me.identity)), { what: 'the learner gone from LiveKit' })
    await expectAccessible(page, `left, ${lang}`)
    teacher.stop()
    await page.context().close()
  })
}
