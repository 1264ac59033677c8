// An admin watches a live class unseen, end to end in real Chromiums
// against a real Estrade and the real LiveKit: from the console, by
// keyboard, "Watch this class" plays the teacher's camera and sound in the
// admin's page; LiveKit holds the admin as a hidden participant that may
// not publish; a learner already in the class is told nothing of it (no
// new speaker, no one in the class's list for her); "Stop watching" leaves
// the room. axe in each new state, in both languages.

import assert from 'node:assert/strict'
import { test } from 'node:test'

import { expectAccessible } from './a11y.mjs'
import {
  catalogs,
  consoleClass,
  classWorld,
  joinByKeyboard,
  liveAudioTracks,
  openPage,
  said,
  saidSoFar,
  tabTo,
  teacherBot,
  teacherVideoPlays,
  until,
} from './harness.mjs'

const world = classWorld()

for (const lang of ['en', 'fr']) {
  test(`in ${lang} an admin watches and hears a live class from the console, hidden from its learners`, async () => {
    const t = catalogs[lang]
    const o = t.console.observe
    const session = await world.estrade.liveSession({ title: 'Focaccia' })
    await teacherBot(world.estrade, session)
    const ada = await openPage(world.browser, { lang })
    await joinByKeyboard(ada, world.estrade.link(session), 'Ada', lang)
    await teacherVideoPlays(ada, lang)

    // The admin signs in and opens the class.
    const admin = await openPage(world.browser, { lang })
    await consoleClass(admin, world.estrade, { key: world.estrade.admin_key, admin: true, session, section: o.title, lang })
    const saidToAda = (await saidSoFar(ada)).length

    // Watch: the teacher's camera plays and the sound arrives.
    await tabTo(admin, 'button', o.start)
    await admin.keyboard.press('Enter')
    await said(admin, 'status', o.watching)
    await teacherVideoPlays(admin, lang)
    await until(async () => (await liveAudioTracks(admin)) >= 1, { what: 'the teacher heard in the admin page' })
    await expectAccessible(admin, `console watching unseen, ${lang}`)

    // LiveKit holds the admin hidden and unable to publish.
    const inRoom = await world.estrade.rooms.listParticipants(session.room_name)
    const observer = inRoom.find((p) => p.identity.startsWith('o-'))
    assert.ok(observer, `the observer is in the room: ${inRoom.map((p) => p.identity)}`)
    assert.equal(observer.permission?.hidden, true, 'hidden from the room')
    assert.equal(observer.permission?.canPublish, false, 'never publishes')
    assert.equal(observer.permission?.canPublishData, false, 'sends no data either')
    // Ada's page was told nothing: no announcement, no name in who speaks.
    assert.deepEqual((await saidSoFar(ada)).slice(saidToAda), [], 'nothing said to the learner')
    const speakers = await ada.getByRole('region', { name: t.speakers.title, exact: true }).textContent()
    assert.ok(!speakers.includes('Dev admin'), `the learner's page names no observer: ${speakers}`)

    // Stop watching: it leaves the room.
    await tabTo(admin, 'button', o.stop)
    await admin.keyboard.press('Enter')
    await said(admin, 'status', o.stopped)
    await until(
      async () =>
        !(await world.estrade.rooms.listParticipants(session.room_name)).some((p) => p.identity.startsWith('o-')),
      { what: 'the observer gone from LiveKit' },
    )
    await expectAccessible(admin, `console stopped watching, ${lang}`)
    await admin.context().close()
    await ada.context().close()
  })
}
