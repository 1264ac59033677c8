import { describe, expect, it } from 'vitest'

import { addChoice, emptyDraft, removeChoice, setChoice, toRequest } from './pollForm'

describe('the new-poll form', () => {
  it('keeps two to six choices', () => {
    let d = emptyDraft()
    expect(removeChoice(d, 0).choices).toHaveLength(2)
    for (let i = 0; i < 10; i++) d = addChoice(d)
    expect(d.choices).toHaveLength(6)
    expect(removeChoice(d, 5).choices).toHaveLength(5)
  })

  it('sends trimmed lines, leaves empty choices out and refuses fewer than two distinct ones', () => {
    const d = setChoice(setChoice({ ...addChoice(emptyDraft()), question: ' Hot\noven? ' }, 0, ' Yes '), 1, 'No')
    expect(toRequest(d)).toEqual({ question: 'Hot oven?', choices: ['Yes', 'No'] })
    expect(toRequest({ ...d, question: '  ' })).toBeNull()
    expect(toRequest(setChoice(d, 1, ''))).toBeNull()
    expect(toRequest(setChoice(d, 1, 'yes'))).toBeNull()
  })
})
