// Typed questions, end to end in real Chromiums against a real Estrade and
// the real LiveKit: a learner who would rather not speak types a question
// by keyboard; it takes its place in the same line as a raised hand, said
// to her and rung in the console, where the teacher reads it in its row and
// marks it answered aloud: the learner hears that her question was
// answered. A second one is set aside. An empty question is refused in
// words. The console's report counts both. axe in every new state, in both
// languages.

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
  ordinal,
  said,
  tabTo,
  tabToField,
  teacherBot,
  until,
} from './harness.mjs'

const world = classWorld()

const TEXTS = {
  en: ['Why do we salt the pasta water?', 'Can I use olive oil instead?'],
  fr: ['Pourquoi sale-t-on l’eau des pâtes ?', 'Puis-je prendre de l’huile d’olive ?'],
}

/** The console's line, row by row, as its text. */
function lineRows(page) {
  return page.locator('ol.hand-queue > li').allTextContents()
}

for (const lang of ['en', 'fr']) {
  test(`in ${lang} a learner asks a typed question by keyboard and hears the teacher answered it, in line with a raised hand`, async () => {
    const t = catalogs[lang]
    const h = t.console.hands
    const [first, second] = TEXTS[lang]
    const session = await world.estrade.liveSession()
    await teacherBot(world.estrade, session)

    // The teacher signs in to the console and opens the class.
    const teacher = await openPage(world.browser, { lang })
    await consoleClass(teacher, world.estrade, { key: world.estrade.teacher_key, session, section: h.title, lang })

    const link = world.estrade.link(session)
    const ada = await openPage(world.browser, { lang })
    const bea = await openPage(world.browser, { lang })
    await joinByKeyboard(ada, link, 'Ada', lang)
    await joinByKeyboard(bea, link, 'Bea', lang)

    // Bea raises her hand: first in line.
    await tabTo(bea, 'button', t.hand.raise)
    await bea.keyboard.press('Enter')
    await said(bea, 'status', ordinal(lang, t.floor, 'queued', 1))

    // Ada sends an empty question: refused in words, nothing sent.
    await tabToField(ada, t.questions.label)
    await tabTo(ada, 'button', t.questions.send)
    await ada.keyboard.press('Enter')
    await said(ada, 'alert', t.questions.errors.empty)
    assert.equal(await ada.getByLabel(t.questions.label, { exact: true }).getAttribute('aria-invalid'), 'true')
    await expectAccessible(ada, `learner question refused, ${lang}`)

    // She types her question and sends it: second in line, as a question.
    await tabToField(ada, t.questions.label)
    await ada.keyboard.type(first)
    await tabTo(ada, 'button', t.questions.send)
    await ada.keyboard.press('Enter')
    await said(ada, 'status', ordinal(lang, t.floor, 'question_queued', 2))
    // The form is gone while it waits: the focus is where it can be withdrawn.
    await until(
      () => ada.getByRole('button', { name: t.hand.withdraw, exact: true }).evaluate((el) => el === document.activeElement),
      { what: 'the focus on “withdraw my question”' },
    )
    await until(() => ada.getByText(ordinal(lang, t.hand, 'question_position', 2), { exact: true }).isVisible(), {
      what: 'her place shown',
    })
    await until(() => ada.getByText(`${first} — ${t.questions.status.waiting}`, { exact: true }).isVisible(), {
      what: 'her question listed as waiting',
    })
    await expectAccessible(ada, `learner question waiting, ${lang}`)

    // The console rings it and shows it in the one line, after Bea's hand.
    await said(teacher, 'status', fill(h[`asked_${new Intl.PluralRules(lang).select(2)}`], { name: 'Ada', count: 2 }))
    await until(
      async () => {
        const rows = await lineRows(teacher)
        return rows.length === 2 && rows[0].includes('Bea') && rows[1].includes('Ada') && rows[1].includes(first)
      },
      { what: 'the line: Bea’s hand, then Ada’s question with its text' },
    )
    await expectAccessible(teacher, `console question in line, ${lang}`)

    // The teacher answers it aloud, by keyboard.
    await tabTo(teacher, 'button', fill(h.answer, { name: 'Ada' }))
    await teacher.keyboard.press('Enter')
    await said(teacher, 'status', fill(h.answered, { name: 'Ada' }))
    await said(ada, 'status', t.questions.said_answered)
    await until(() => ada.getByText(`${first} — ${t.questions.status.answered}`, { exact: true }).isVisible(), {
      what: 'her question listed as answered',
    })
    await until(async () => (await lineRows(teacher)).length === 1, { what: 'only Bea left in line' })
    await expectAccessible(ada, `learner question answered, ${lang}`)

    // A second question, set aside by the teacher.
    await tabToField(ada, t.questions.label)
    await ada.keyboard.type(second)
    await tabTo(ada, 'button', t.questions.send)
    await ada.keyboard.press('Enter')
    await said(ada, 'status', ordinal(lang, t.floor, 'question_queued', 2))
    await tabTo(teacher, 'button', fill(h.dismiss, { name: 'Ada' }))
    await teacher.keyboard.press('Enter')
    await said(ada, 'status', t.questions.said_dismissed)
    await until(() => ada.getByText(`${second} — ${t.questions.status.dismissed}`, { exact: true }).isVisible(), {
      what: 'her second question listed as set aside',
    })

    // The report counts what happened: two questions from Ada, one answered.
    const report = await world.estrade.call('GET', `/v1/sessions/${session.id}/report`, {
      token: world.estrade.teacher_key,
    })
    assert.equal(report.session.questions_asked, 2)
    assert.equal(report.session.questions_answered, 1)
    const byName = Object.fromEntries(report.participants.map((p) => [p.display_name, [p.questions_asked, p.questions_answered, p.hands_raised]]))
    assert.deepEqual(byName, { Ada: [2, 1, 0], Bea: [0, 0, 1] })
    // And the console's report table shows the same.
    await tabTo(teacher, 'button', t.console.report.refresh)
    await teacher.keyboard.press('Enter')
    const adaRow = teacher.getByRole('row', { name: /^Ada\b/ })
    await until(async () => (await adaRow.getByRole('cell').allTextContents()).slice(-2).join(' ') === '2 1', {
      what: 'the report table: Ada asked 2, 1 answered',
    })
    await expectAccessible(teacher, `console report with questions, ${lang}`)
  })
}
