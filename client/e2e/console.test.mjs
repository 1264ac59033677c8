// A teacher runs a whole class from the console, by keyboard only, in a
// real Chromium against a real Estrade and the real LiveKit, with two
// learners in their own browsers: sign in, create, start, publish the
// camera; the learners join by the link and see it; both raise hands,
// which the console shows in order with a sound and an announcement; grant
// the next, hear the learner, take the floor back (LiveKit lists no learner
// microphone then), open the floor to two, remove one learner, end.
// Then what the sign-in must never allow: a change from another origin
// with the cookie, a script reading the cookie, the key left in storage or
// in a URL. axe in every state, in both languages.

import assert from 'node:assert/strict'
import { test } from 'node:test'

import { expectAccessible } from './a11y.mjs'
import {
  catalogs,
  classWorld,
  fill,
  foreignSite,
  joinByKeyboard,
  openPage,
  receivedAudioPeak,
  said,
  tabTo,
  tabToField,
  until,
} from './harness.mjs'

const world = classWorld()

/** The strings the test finds the console's controls by, in `lang`. */
function strings(lang) {
  const t = catalogs[lang]
  const c = t.console
  return {
    t,
    signInTitle: c.sign_in.title,
    apiKey: c.sign_in.key,
    signIn: c.sign_in.submit,
    badKey: c.errors.invalid_api_key,
    classesTitle: c.list.title_teacher,
    newClass: c.create.title,
    title: c.create.field_title,
    create: c.create.submit,
    start: c.class.start,
    end: c.class.end,
    confirmEnd: c.class.end_confirm,
    statusLive: c.class.status_live,
    statusEnded: c.class.status_ended,
    joinCode: c.invite.code_label,
    qr: c.invite.qr,
    publishStart: c.publish.start,
    publishStop: c.publish.stop,
    preview: c.publish.preview,
    hands: c.hands.title,
    grantOne: (name) => fill(c.hands.grant, { name }),
    grantNext: c.hands.grant_next,
    revokeSpeaker: (name) => fill(c.floor.revoke, { name }),
    raised: (name, count) => fill(c.hands[`raised_${new Intl.PluralRules(lang).select(count)}`], { name, count }),
    mode: c.floor.mode,
    speakers: c.floor.max_speakers,
    apply: c.floor.apply,
    modeOpen: c.modes.open,
    remove: (name) => fill(c.participants.kick, { name }),
    confirmRemove: c.participants.kick_confirm,
    reportTable: c.report.table,
    reportSpeakers: c.report.speakers,
    speakersOf: (count) => c.report[`speakers_of_${new Intl.PluralRules(lang).select(count)}`],
  }
}

/** Whether LiveKit lists a published microphone (source 2) for a learner of `session`. */
async function learnerMicrophones(session) {
  const participants = await world.estrade.rooms.listParticipants(session.room_name)
  return participants.filter((p) => p.identity.startsWith('l-') && p.tracks.some((t) => t.source === 2))
}

/** The session as the teacher's key reads it. */
function sessionNamed(title) {
  return until(
    async () => {
      const { sessions } = await world.estrade.call('GET', '/v1/sessions', { token: world.estrade.teacher_key })
      return sessions.find((s) => s.title === title)
    },
    { what: `the class “${title}” created` },
  )
}

/** Raised hands as the console lists them (each row's text). */
function handRows(page, s) {
  return page.getByRole('list', { name: s.hands, exact: true }).getByRole('listitem').allTextContents()
}

const TITLES = { en: 'Pain au levain', fr: 'Pâte feuilletée' }

for (const lang of ['en', 'fr']) {
  test(`a teacher runs a whole class from the console by keyboard in ${lang}: two learners, hands in order, the floor given, heard and taken back, one removed, the end`, async () => {
    const s = strings(lang)
    const { t } = s
    const title = TITLES[lang]
    const teacher = await openPage(world.browser, { lang })
    const keyRequests = []
    teacher.on('request', (r) => keyRequests.push(r.url()))
    const consoleLines = []
    teacher.on('console', (m) => consoleLines.push(m.text()))

    // Sign in: a wrong key is said, the right one opens the list.
    await teacher.goto(`${world.estrade.api}/console`)
    await until(() => teacher.getByRole('heading', { name: s.signInTitle, exact: true }).isVisible(), {
      what: 'the sign-in page',
    })
    await expectAccessible(teacher, `console sign-in, ${lang}`)
    await tabToField(teacher, s.apiKey)
    await teacher.keyboard.type('estrade_not-a-real-key')
    await teacher.keyboard.press('Enter')
    await said(teacher, 'alert', s.badKey)
    await expectAccessible(teacher, `console sign-in refused, ${lang}`)
    await tabToField(teacher, s.apiKey)
    await teacher.keyboard.press('Control+A')
    await teacher.keyboard.type(world.estrade.teacher_key)
    await teacher.keyboard.press('Enter')
    await until(() => teacher.getByRole('heading', { name: s.classesTitle, exact: true }).isVisible(), {
      what: 'the list of classes',
    })
    await expectAccessible(teacher, `console classes, ${lang}`)

    // Create a class and open it.
    await tabToField(teacher, s.title)
    await teacher.keyboard.type(title)
    await tabTo(teacher, 'button', s.create)
    await teacher.keyboard.press('Enter')
    await until(() => teacher.getByRole('heading', { name: title, exact: true, level: 1 }).isVisible(), {
      what: 'the class page',
    })
    const session = await sessionNamed(title)
    assert.equal(session.status, 'scheduled')
    await expectAccessible(teacher, `console class not started, ${lang}`)

    // Start it, read the code aloud, publish the camera.
    await tabTo(teacher, 'button', s.start)
    await teacher.keyboard.press('Enter')
    await until(() => teacher.getByText(s.statusLive, { exact: true }).isVisible(), { what: 'the class live' })
    const shownCode = (await teacher.getByLabel(s.joinCode, { exact: true }).textContent()).replace(/\s/g, '')
    assert.equal(shownCode, session.join_code)
    assert.ok(await teacher.getByRole('img', { name: s.qr, exact: true }).isVisible(), 'a QR code of the link')
    await tabTo(teacher, 'button', s.publishStart)
    await teacher.keyboard.press('Enter')
    const preview = teacher.getByLabel(s.preview, { exact: true })
    await until(() => preview.evaluate((v) => v.videoWidth > 0), { what: 'the preview playing' })
    await until(() => teacher.getByRole('button', { name: s.publishStop, exact: true }).isVisible(), {
      what: 'publishing',
    })
    await expectAccessible(teacher, `console live and publishing, ${lang}`)

    // The learners join by the link and see the teacher's camera.
    const link = `${world.estrade.api}/join/${session.join_code}`
    const ada = await openPage(world.browser, { lang })
    const bea = await openPage(world.browser, { lang })
    await joinByKeyboard(ada, link, 'Ada', lang)
    await joinByKeyboard(bea, link, 'Bea', lang)

    // Both raise their hands: shown in order, a sound, an announcement.
    const playsBefore = await teacher.evaluate(() => window.__plays.length)
    for (const [page, name, count] of [
      [ada, 'Ada', 1],
      [bea, 'Bea', 2],
    ]) {
      await tabTo(page, 'button', t.hand.raise)
      await page.keyboard.press('Enter')
      await said(teacher, 'status', s.raised(name, count))
    }
    const rows = await until(async () => {
      const r = await handRows(teacher, s)
      return r.length === 2 && r
    }, { what: 'two raised hands listed' })
    assert.ok(rows[0].includes('Ada') && rows[1].includes('Bea'), `in order: ${rows}`)
    const plays = await teacher.evaluate((n) => window.__plays.slice(n), playsBefore)
    assert.ok(plays.filter((src) => src.startsWith('data:audio/wav')).length >= 2, `a sound per hand: ${plays}`)
    await expectAccessible(teacher, `console two hands raised, ${lang}`)

    // Grant the next in line with its shortcut, the focus resting on Bea's
    // row: Ada speaks, Bea's row moves up and keeps the focus.
    await tabTo(teacher, 'button', s.grantOne('Bea'))
    await teacher.keyboard.press('Alt+Shift+KeyN')
    await said(ada, 'alert', t.floor.granted)
    await until(async () => (await handRows(teacher, s)).length === 1, { what: 'Ada out of the queue' })
    const focused = await teacher.evaluate(() => document.activeElement?.textContent ?? '')
    assert.equal(focused, s.grantOne('Bea'), 'the focus stays on Bea’s row')

    // Silence from the learners until Ada opens her microphone; then the
    // teacher's browser plays her voice.
    assert.ok((await receivedAudioPeak(teacher, 1_000)) < 0.005, 'no learner heard before')
    await tabTo(ada, 'button', t.mic.open)
    await ada.keyboard.press('Enter')
    await said(ada, 'status', t.mic.live)
    await until(async () => (await receivedAudioPeak(teacher)) > 0.02, {
      timeout: 30_000,
      what: "the teacher hearing Ada's voice",
    })
    await expectAccessible(teacher, `console a learner speaking, ${lang}`)

    // Take the floor back: LiveKit lists no learner microphone.
    await tabTo(teacher, 'button', s.revokeSpeaker('Ada'))
    await teacher.keyboard.press('Enter')
    await said(ada, 'alert', t.floor.revoked)
    await until(async () => (await learnerMicrophones(session)).length === 0, {
      what: 'no learner microphone in LiveKit',
    })

    // Open the floor to two speakers at once.
    await tabToField(teacher, s.mode)
    await teacher.keyboard.type(s.modeOpen)
    await tabToField(teacher, s.speakers)
    await teacher.keyboard.press('Control+A')
    await teacher.keyboard.type('2')
    await tabTo(teacher, 'button', s.apply)
    await teacher.keyboard.press('Enter')
    await until(
      async () => {
        const floor = await world.estrade.call('GET', `/v1/sessions/${session.id}/floor`, {
          token: world.estrade.teacher_key,
        })
        return floor.mode === 'open' && floor.max_speakers === 2
      },
      { what: 'the floor open to two' },
    )

    // Remove Bea, after a confirmation: her browser says so, and her seat
    // is gone for good (its token is refused, LiveKit no longer has her).
    const beaSeat = await bea.evaluate(() => JSON.stringify(Object.values(sessionStorage)))
    const beaToken = JSON.parse(beaSeat)
      .map((v) => {
        try {
          return JSON.parse(v).participant_token
        } catch {
          return undefined
        }
      })
      .find(Boolean)
    assert.ok(beaToken, 'Bea’s seat is kept in her tab')
    await tabTo(teacher, 'button', s.remove('Bea'))
    await teacher.keyboard.press('Enter')
    const removeDialog = teacher.getByRole('dialog')
    await until(() => removeDialog.isVisible(), { what: 'the confirmation' })
    await expectAccessible(teacher, `console remove confirmation, ${lang}`)
    await tabTo(teacher, 'button', s.confirmRemove)
    await teacher.keyboard.press('Enter')
    await until(() => bea.getByRole('heading', { name: t.over.kicked_title, exact: true }).isVisible(), {
      what: 'Bea told she was removed',
    })
    const refreshed = await fetch(`${world.estrade.api}/v1/participant/refresh`, {
      method: 'POST',
      headers: { authorization: `Bearer ${beaToken}` },
    })
    assert.equal(refreshed.status, 401)
    assert.equal((await refreshed.json()).error.code, 'token_revoked')
    await bea.reload()
    await until(() => bea.getByLabel(t.join.name, { exact: true }).isVisible(), { what: 'Bea back at the join form' })
    const participants = await world.estrade.rooms.listParticipants(session.room_name)
    assert.ok(!participants.some((p) => p.name === 'Bea'), 'LiveKit no longer has Bea')

    // End the class, after a confirmation.
    await tabTo(teacher, 'button', s.end)
    await teacher.keyboard.press('Enter')
    await until(() => teacher.getByRole('dialog').isVisible(), { what: 'the end confirmation' })
    await expectAccessible(teacher, `console end confirmation, ${lang}`)
    await tabTo(teacher, 'button', s.confirmEnd)
    await teacher.keyboard.press('Enter')
    await until(() => ada.getByRole('heading', { name: t.over.ended_title, exact: true }).isVisible(), {
      what: 'Ada seeing the end',
    })
    await until(() => teacher.getByText(s.statusEnded, { exact: true }).isVisible(), { what: 'the console ended' })
    await until(async () => (await world.estrade.rooms.listRooms([session.room_name])).length === 0, {
      what: 'the room gone in LiveKit',
    })
    await expectAccessible(teacher, `console class ended, ${lang}`)

    // The report of who got to speak, as the table shows it: the figures
    // the server stored, and Ada's as the test made them (one hand, given
    // the floor once, answered).
    const reported = await world.estrade.call('GET', `/v1/sessions/${session.id}/report`, {
      token: world.estrade.teacher_key,
    })
    const table = teacher.getByRole('table', { name: s.reportTable, exact: true })
    const cellsOf = (name) =>
      table
        .getByRole('row')
        .filter({ has: teacher.getByRole('rowheader', { name, exact: true }) })
        .getByRole('cell')
        .allTextContents()
    const expected = (name) => {
      const p = reported.participants.find((x) => x.display_name === name)
      return [p.hands_raised, p.times_granted, p.hands_unanswered, p.questions_asked, p.questions_answered].map(String)
    }
    // Hands, given the floor, speaking time, longest and median wait, hands
    // never answered, typed questions, questions answered.
    const shown = async (name) => {
      const cells = await cellsOf(name)
      return cells.length === 8 ? [cells[0], cells[1], cells[5], cells[6], cells[7]] : null
    }
    await until(async () => JSON.stringify(await shown('Ada')) === JSON.stringify(['1', '1', '0', '0', '0']), {
      what: 'Ada in the report: one hand, given the floor once',
    })
    assert.deepEqual(await shown('Ada'), expected('Ada'))
    assert.deepEqual(await shown('Bea'), expected('Bea'))
    const spoke = reported.session.distinct_speakers
    await until(() => teacher.getByText(fill(s.speakersOf(spoke), { count: spoke, total: 2 }), { exact: true }).isVisible(), {
      what: 'how many learners spoke',
    })
    await expectAccessible(teacher, `console report, ${lang}`)

    // The key reached no storage, no URL and no console line.
    const stored = await teacher.evaluate(() =>
      JSON.stringify([Object.entries(localStorage), Object.entries(sessionStorage), document.cookie, location.href]),
    )
    for (const [what, text] of [
      ['storage, cookies readable by scripts or the address', stored],
      ['request URLs', keyRequests.join('\n')],
      ['console lines', consoleLines.join('\n')],
    ]) {
      assert.ok(!text.includes(world.estrade.teacher_key), `the key is not in ${what}`)
    }
    for (const page of [teacher, ada, bea]) await page.context().close()
  })
}

test('the console reflows at 320 px, its cookie is HttpOnly and Strict, and a form another origin posts with it changes nothing', async () => {
  const s = strings('en')
  const teacher = await openPage(world.browser, { lang: 'en' })
  const session = await world.estrade.liveSession({ title: 'Croissants' })
  await teacher.goto(`${world.estrade.api}/console`)
  await tabToField(teacher, s.apiKey)
  await teacher.keyboard.type(world.estrade.teacher_key)
  await teacher.keyboard.press('Enter')
  await until(() => teacher.getByRole('heading', { name: s.classesTitle, exact: true }).isVisible(), {
    what: 'signed in',
  })

  // At 320 px (a phone, or 400 % zoom) the list and a live class reflow
  // with no sideways scrolling.
  await teacher.setViewportSize({ width: 320, height: 800 })
  const fitsWidth = () => teacher.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth)
  assert.ok(await fitsWidth(), 'the list fits 320 px')
  await expectAccessible(teacher, 'console classes, en, 320 px')
  await tabTo(teacher, 'link', 'Croissants')
  await teacher.keyboard.press('Enter')
  await until(() => teacher.getByRole('heading', { name: 'Croissants', exact: true, level: 1 }).isVisible(), {
    what: 'the class page',
  })
  await until(() => teacher.getByText(s.statusLive, { exact: true }).isVisible(), { what: 'shown live' })
  // The report comes by its own request: measure once it is in the page.
  await until(() => teacher.getByText(s.reportSpeakers, { exact: true }).isVisible(), { what: 'the report shown' })
  assert.ok(await fitsWidth(), 'the class page fits 320 px')
  await expectAccessible(teacher, 'console live class, en, 320 px')

  const [cookie] = await teacher.context().cookies(world.estrade.api)
  assert.equal(cookie.name, 'estrade_console')
  assert.equal(cookie.httpOnly, true)
  assert.equal(cookie.sameSite, 'Strict')
  assert.equal(await teacher.evaluate(() => document.cookie.includes('estrade_console')), false)

  // Another origin of the same site (127.0.0.1, another port), so the
  // browser does send the cookie: the Origin check alone must refuse.
  const site = await foreignSite(
    `<!doctype html><title>Free recipes</title>
     <form method="post" action="${world.estrade.api}/v1/sessions/${session.id}/end"></form>
     <script>document.forms[0].submit()</script>`,
  )
  const posted = teacher.waitForResponse((r) => r.url().endsWith(`/v1/sessions/${session.id}/end`))
  await teacher.goto(site.url)
  const response = await posted
  const sent = await response.request().allHeaders()
  assert.match(sent.cookie ?? '', /estrade_console=/, 'the browser sent the cookie')
  assert.equal(response.status(), 403)
  assert.equal((await response.json()).error.code, 'cross_origin')
  site.stop()
  const after = await world.estrade.call('GET', `/v1/sessions/${session.id}`, { token: world.estrade.teacher_key })
  assert.equal(after.status, 'live', 'the class was not ended')
  await teacher.context().close()
})

test('an admin sees every class and its floor, may end it, but the floor stays its teacher’s', async () => {
  const s = strings('en')
  const c = catalogs.en.console
  const session = await world.estrade.liveSession({ title: 'Brioche' })
  const admin = await openPage(world.browser, { lang: 'en' })
  await admin.goto(`${world.estrade.api}/console`)
  await tabToField(admin, s.apiKey)
  await admin.keyboard.type(world.estrade.admin_key)
  await admin.keyboard.press('Enter')
  await until(() => admin.getByRole('heading', { name: c.list.title_all, exact: true }).isVisible(), {
    what: 'all classes',
  })
  assert.equal(await admin.getByRole('heading', { name: c.create.title, exact: true }).count(), 0, 'no create form')
  await tabTo(admin, 'link', 'Brioche')
  await admin.keyboard.press('Enter')
  await until(() => admin.getByText(s.statusLive, { exact: true }).isVisible(), { what: 'the class, live' })
  await until(() => admin.getByText(c.floor.owner_only, { exact: true }).isVisible(), { what: 'the floor is the teacher’s' })
  for (const name of [s.grantNext, c.hands.revoke_all, s.apply, s.publishStart]) {
    assert.equal(await admin.getByRole('button', { name, exact: true }).count(), 0, `no “${name}”`)
  }
  await expectAccessible(admin, 'console class seen by an admin, en')
  await tabTo(admin, 'button', s.end)
  await admin.keyboard.press('Enter')
  await tabTo(admin, 'button', s.confirmEnd)
  await admin.keyboard.press('Enter')
  await until(async () => (await world.estrade.call('GET', `/v1/sessions/${session.id}`, { token: world.estrade.teacher_key })).status === 'ended', {
    what: 'the class ended by the admin',
  })
  await admin.context().close()
})
