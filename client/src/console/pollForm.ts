// The console's new-poll form as plain data: 2 to 6 choices, a yes/no
// preset in the teacher's language, and what is sent (trimmed, empty
// choices left out) or why not. Pure.

export const MIN_CHOICES = 2
export const MAX_CHOICES = 6

export interface PollDraft {
  question: string
  choices: string[]
}

export const emptyDraft = (): PollDraft => ({ question: '', choices: ['', ''] })

export function addChoice(draft: PollDraft): PollDraft {
  return draft.choices.length >= MAX_CHOICES ? draft : { ...draft, choices: [...draft.choices, ''] }
}

export function removeChoice(draft: PollDraft, index: number): PollDraft {
  if (draft.choices.length <= MIN_CHOICES) return draft
  return { ...draft, choices: draft.choices.filter((_, i) => i !== index) }
}

export function setChoice(draft: PollDraft, index: number, text: string): PollDraft {
  return { ...draft, choices: draft.choices.map((c, i) => (i === index ? text : c)) }
}

/** The request to send, or null when the question is empty or fewer than two distinct choices are left. */
export function toRequest(draft: PollDraft): { question: string; choices: string[] } | null {
  const question = draft.question.replace(/\s+/g, ' ').trim()
  const choices = draft.choices.map((c) => c.replace(/\s+/g, ' ').trim()).filter((c) => c !== '')
  const distinct = new Set(choices.map((c) => c.toLowerCase()))
  if (question === '' || choices.length < MIN_CHOICES || distinct.size !== choices.length) return null
  return { question, choices }
}
