// A quick poll, end to end in real Chromiums against a real Estrade and
// the real LiveKit: the teacher opens it from the console by keyboard; two
// learners and a classroom get it as a focused dialog and answer by
// keyboard (arrow keys in a radio group), one changes its mind; the
// console's counts follow live (the classroom with its people beside
// it); the teacher closes it and shows the results, which every learner
// page then says and shows; the report counts who answered. axe in every
// new state, in both languages.

import assert from 'node:assert/strict'
import { test } from 'node:test'

import { expectAccessible } from './a11y.mjs'
import {
  catalogs,
  consoleClass,
  classWorld,
  fill,
  joinByKeyboard,
  openPage,
  said,
  tabTo,
  tabToField,
  teacherBot,
  teacherVideoPlays,
  until,
} from './harness.mjs'

const world = classWorld()

const plural = (lang, section, base, count) => section[`${base}_${new Intl.PluralRules(lang).select(count)}`]

/** Joins `link` as a classroom of `headcount` people, by keyboard. */
async function joinAsClassroom(page, link, name, headcount, lang) {
  const t = catalogs[lang]
  await page.goto(link)
  const field = page.getByLabel(t.join.name, { exact: true })
  await until(() => field.evaluate((el) => el === document.activeElement), { what: 'the name field focused' })
  await tabToField(page, t.join.classroom)
  await page.keyboard.press('Space')
  await tabToField(page, t.join.classroom_name)
  await page.keyboard.type(name)
  await tabToField(page, t.join.headcount)
  await page.keyboard.press('Control+A')
  await page.keyboard.type(String(headcount))
  await page.keyboard.press('Enter')
  await teacherVideoPlays(page, lang)
}

/** The console's counts of the open poll, row by row: [choice, answers, classrooms (people)]. */
function countRows(page) {
  return page
    .locator('table.poll-counts')
    .first()
    .getByRole('row')
    .evaluateAll((rows) => rows.slice(1).map((r) => [...r.children].map((c) => c.textContent.trim())))
}

const QUESTIONS = { en: 'Is your oven hot?', fr: 'Votre four est-il chaud ?' }

for (const lang of ['en', 'fr']) {
  test(`a poll opened by keyboard in ${lang} is answered by two learners and a classroom, counted live, closed and shown`, async () => {
    const t = catalogs[lang]
    const c = t.console.polls
    const question = QUESTIONS[lang]
    const session = await world.estrade.liveSession()
    await teacherBot(world.estrade, session)

    // The teacher signs in to the console and opens the class.
    const teacher = await openPage(world.browser, { lang })
    await consoleClass(teacher, world.estrade, { key: world.estrade.teacher_key, session, section: c.title, lang })

    const link = world.estrade.link(session)
    const ada = await openPage(world.browser, { lang })
    const bea = await openPage(world.browser, { lang })
    const room = await openPage(world.browser, { lang })
    await joinByKeyboard(ada, link, 'Ada', lang)
    await joinByKeyboard(bea, link, 'Bea', lang)
    await joinAsClassroom(room, link, 'CM2 B', 24, lang)

    // Open a yes/no poll by keyboard.
    await tabToField(teacher, c.question)
    await teacher.keyboard.type(question)
    await tabTo(teacher, 'button', c.yes_no)
    await teacher.keyboard.press('Enter')
    assert.equal(await teacher.getByLabel(fill(c.choice, { n: 1 }), { exact: true }).inputValue(), c.yes)
    await expectAccessible(teacher, `console poll form, ${lang}`)
    await tabTo(teacher, 'button', c.open)
    await teacher.keyboard.press('Enter')
    await said(teacher, 'status', c.said_opened)

    // Each learner page asks it in a dialog, the focus on the first answer.
    for (const page of [ada, bea, room]) {
      await said(page, 'status', fill(t.poll.said_opened, { question }))
      const dialog = page.getByRole('dialog', { name: t.poll.dialog_title, exact: true })
      await until(() => dialog.isVisible(), { what: 'the poll dialog' })
      await until(
        () => page.getByRole('radio', { name: c.yes, exact: true }).evaluate((el) => el === document.activeElement),
        { what: 'the focus on the first answer' },
      )
    }
    await expectAccessible(ada, `learner poll dialog, ${lang}`)

    // Ada moves to “No” with the arrow key; Bea and the classroom choose “Yes”.
    for (const [page, keys, choice] of [
      [ada, ['ArrowDown'], c.no],
      [bea, ['Space'], c.yes],
      [room, ['Space'], c.yes],
    ]) {
      for (const key of keys) await page.keyboard.press(key)
      await tabTo(page, 'button', t.poll.send)
      await page.keyboard.press('Enter')
      await said(page, 'status', fill(t.poll.said_answered, { choice }))
      await until(async () => !(await page.getByRole('dialog').isVisible()), { what: 'the dialog closed' })
    }
    const people = (count, n) => fill(c.classrooms_cell, { count, people: n })
    await until(
      async () =>
        JSON.stringify(await countRows(teacher)) ===
        JSON.stringify([
          [c.yes, '2', people(1, 24)],
          [c.no, '1', people(0, 0)],
        ]),
      { what: 'the console counting 2 yes (one a classroom of 24) and 1 no' },
    )
    await expectAccessible(teacher, `console poll counts, ${lang}`)

    // Ada changes her mind from her page's poll panel.
    await tabTo(ada, 'button', t.poll.change)
    await ada.keyboard.press('Enter')
    await until(
      () => ada.getByRole('radio', { name: c.no, exact: true }).evaluate((el) => el === document.activeElement && el.checked),
      { what: 'the dialog again, on her answer' },
    )
    await ada.keyboard.press('ArrowUp')
    await tabTo(ada, 'button', t.poll.send)
    await ada.keyboard.press('Enter')
    await said(ada, 'status', fill(t.poll.said_answered, { choice: c.yes }))
    await until(async () => (await countRows(teacher))[0]?.[1] === '3', { what: 'three yes' })

    // Closed and shown: every learner page says and shows the results.
    await tabTo(teacher, 'button', c.close_show)
    await teacher.keyboard.press('Enter')
    await said(teacher, 'status', c.said_shown)
    const yesLine = `${fill(plural(lang, t.poll, 'result', 3), { choice: c.yes, count: 3 })} ${fill(
      plural(lang, t.poll, 'result_classrooms', 1),
      { count: 1, people: 24 },
    )}`
    for (const page of [ada, bea, room]) {
      await said(page, 'status', fill(t.poll.said_shown, { question }))
      await until(() => page.getByText(yesLine, { exact: true }).isVisible(), { what: `“${yesLine}” shown` })
    }
    await expectAccessible(bea, `learner poll results, ${lang}`)
    await expectAccessible(teacher, `console poll closed, ${lang}`)

    // The report counts the poll and who answered it.
    const report = await world.estrade.call('GET', `/v1/sessions/${session.id}/report`, {
      token: world.estrade.teacher_key,
    })
    assert.equal(report.session.polls, 1)
    const answered = Object.fromEntries(report.participants.map((p) => [p.display_name, p.polls_answered]))
    assert.deepEqual(answered, { Ada: 1, Bea: 1, 'CM2 B': 1 })
  })
}
