// The field proof: a whole class through a network that lets only
// 443/tcp out (field.mjs builds it), with real media in a real browser.
// From the campus, with nothing in the client forcing a relay: the learner
// joins by the link and the teacher's video plays and sound arrives; she
// raises a hand, is granted, and the teacher receives her microphone; the
// revoke takes it away. Every connected peer connection's selected pair is
// a relay over TLS on 443, and nothing but TCP to 443 from the campus
// reached the server. A 10 s network loss is said as reconnecting, comes
// back on its own, and keeps her place in line. The network check says
// the class will work, and says it will not once the relay's address is
// closed too. Join-to-first-frame is timed through the relay and on an
// open network, for docs/PERFORMANCE.md.

import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'

import { startField, missing } from './field.mjs'
import {
  catalogs,
  launchBrowser,
  openPage,
  said,
  stopBots,
  tabTo,
  teacherBot,
  teacherVideoPlays,
  until,
} from './harness.mjs'

const why = missing()
const t = catalogs.en
const world = { field: null, browser: null }

before(async () => {
  if (why) return
  world.field = await startField()
  world.browser = await launchBrowser(world.field.browser())
})

after(async () => {
  stopBots()
  await world.browser?.close()
  await world.field?.stop()
})

/** The selected candidate pair of every connected peer connection of `page`: its local candidate. */
function selectedPairs(page) {
  return page.evaluate(async () => {
    const pairs = []
    for (const pc of window.__pcs) {
      if (pc.connectionState !== 'connected') continue
      const stats = [...(await pc.getStats()).values()]
      const transport = stats.find((s) => s.type === 'transport' && s.selectedCandidatePairId)
      const pair = stats.find((s) => s.id === transport?.selectedCandidatePairId)
      const local = stats.find((s) => s.id === pair?.localCandidateId)
      pairs.push({ type: local?.candidateType, relayProtocol: local?.relayProtocol, url: local?.url })
    }
    return pairs
  })
}

/** Joins `page` by the link as `name` and returns the milliseconds from Enter to the teacher's first frame. */
async function joinTimed(page, link, name) {
  await page.goto(link)
  const field = page.getByLabel(t.join.name, { exact: true })
  await until(() => field.evaluate((el) => el === document.activeElement), { what: 'the name field focused' })
  await page.keyboard.type(name)
  const started = Date.now()
  await page.keyboard.press('Enter')
  const video = page.getByLabel(t.stage.video_named.replace('{{name}}', 'Dev teacher'), { exact: true })
  await until(() => video.evaluate((v) => v.getVideoPlaybackQuality().totalVideoFrames > 0), {
    timeout: 60_000,
    what: 'the first frame of the teacher',
  })
  return Date.now() - started
}

test('a learner behind a firewall that lets only 443/tcp out watches, hears and speaks through the TURN relay over TLS on 443', { skip: why ?? false }, async () => {
  const { field } = world
  const session = await field.liveSession('Pain au levain')
  const teacher = await teacherBot(
    { call: field.call, teacher_key: field.summary.teacher_key },
    session,
    { prefix: ['ip', 'netns', 'exec', field.ns.server] },
  )
  const before = field.arrivals()

  // Join through the campus firewall: the teacher plays, frames advance, sound arrives.
  const ada = await openPage(world.browser, { lang: 'en' })
  const throughRelay = await joinTimed(ada, field.link(session), 'Ada')
  await teacherVideoPlays(ada, 'en')
  await until(
    () =>
      ada.evaluate(() =>
        [...document.querySelectorAll('audio')].some((a) => a.srcObject?.getAudioTracks().some((t) => t.readyState === 'live')),
      ),
    { what: "the teacher's sound arriving" },
  )
  const pairs = await selectedPairs(ada)
  assert.ok(pairs.length >= 1, 'a connected peer connection')
  for (const pair of pairs) {
    assert.equal(pair.type, 'relay', `relayed: ${JSON.stringify(pairs)}`)
    assert.equal(pair.relayProtocol, 'tls', `over TLS: ${JSON.stringify(pairs)}`)
    assert.match(pair.url ?? '', /^turns:turn\.estrade\.test:443/, `through coturn on 443: ${JSON.stringify(pairs)}`)
  }

  // Raise, granted, speak: the teacher receives her microphone; the revoke takes it.
  await tabTo(ada, 'button', t.hand.raise)
  await ada.keyboard.press('Enter')
  // The hand is in line before the teacher grants (the grant goes to the first in line).
  await said(ada, 'status', t.floor.queued_ordinal_one.replace('{{count}}', '1'))
  await field.call('POST', `/v1/sessions/${session.id}/floor/grant`, { token: field.summary.teacher_key, body: {} })
  await said(ada, 'alert', t.floor.granted)
  await tabTo(ada, 'button', t.mic.open)
  await ada.keyboard.press('Enter')
  const [me] = (await field.call('GET', `/v1/sessions/${session.id}/participants`, { token: field.summary.teacher_key }))
    .participants.filter((p) => p.name === 'Ada')
  await teacher.wait((e) => e.event === 'frames' && e.from === me.identity && e.kind === 'microphone', { timeout: 30_000 })
  await field.call('POST', `/v1/sessions/${session.id}/floor/revoke`, {
    token: field.summary.teacher_key,
    body: { participant_id: me.id },
  })
  await said(ada, 'alert', t.floor.revoked)
  await until(
    async () => {
      const listed = await field.rooms.listParticipants(session.room_name)
      return !listed.some((p) => p.identity === me.identity && p.tracks.some((track) => track.source === 2))
    },
    { what: 'her microphone gone from LiveKit' },
  )

  // Nothing but TCP to 443 from the campus reached the server.
  const arrived = field.arrivals()
  assert.ok(arrived.to443 - before.to443 > 100, `media went over 443: ${JSON.stringify(arrived)}`)
  assert.equal(arrived.all - before.all, arrived.to443 - before.to443, `only TCP to 443 arrived: ${JSON.stringify(arrived)}`)

  // A 10 s network loss: said, recovered on its own, her place in line kept.
  await tabTo(ada, 'button', t.hand.raise)
  await ada.keyboard.press('Enter')
  await said(ada, 'status', t.floor.queued_ordinal_one.replace('{{count}}', '1'))
  const restore = field.cut()
  await said(ada, 'alert', t.session.reconnecting, { timeout: 60_000 })
  // The outage lasts 10 s from the moment it was said: a duration the scenario sets, not a wait for a condition.
  await new Promise((r) => setTimeout(r, 10_000))
  restore()
  await said(ada, 'status', t.session.reconnected, { timeout: 60_000 })
  await teacherVideoPlays(ada, 'en')
  const floor = await field.call('GET', `/v1/sessions/${session.id}/floor`, { token: field.summary.teacher_key })
  assert.deepEqual(
    floor.queue.map((h) => [h.participant_id, h.position]),
    [[me.id, 1]],
    'her place in line is kept',
  )

  // The same join on an open network, for comparison.
  const close = field.openCampus()
  const bea = await openPage(world.browser, { lang: 'en' })
  const open = await joinTimed(bea, field.link(session), 'Bea')
  close()
  console.log(`join to first frame: ${throughRelay} ms through the relay on 443, ${open} ms on an open network`)

  // The network check, in Ada's tab (it needs her seat): works; then the relay's address closed too: it says it will not.
  await ada.goto(`http://app.estrade.test:443/check`)
  await tabTo(ada, 'button', t.check.start)
  await ada.keyboard.press('Enter')
  await said(ada, 'status', t.check.works, { timeout: 30_000 })
  const reopen = field.closeRelay()
  await tabTo(ada, 'button', t.check.again)
  await ada.keyboard.press('Enter')
  await said(ada, 'alert', t.check.blocked, { timeout: 30_000 })
  reopen()
  teacher.stop()
})
