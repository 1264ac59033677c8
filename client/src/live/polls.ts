// Quick polls as the API shows them (GET /v1/sessions/{id}/polls, `poll`
// events), and the few rules both the learner's page and the console
// follow: one list by id, oldest first; the participant's own choice kept
// when a copy does not carry it (events never do); the poll to ask. Pure.

export interface ChoiceCount {
  text: string
  answers: number
  classrooms: number
  classroom_headcount: number
}

export interface Poll {
  id: string
  session_id: string
  question: string
  choices: string[]
  opened_at: string
  closed_at: string | null
  results_shown: boolean
  /** Staff always; a participant once shown. */
  answers?: number
  results?: ChoiceCount[]
  /** A participant's own choice (index), null before it answers. */
  my_choice?: number | null
}

/** The list with `next` in it (replacing the copy of the same id), oldest first. */
export function withPoll(polls: readonly Poll[], next: Poll): Poll[] {
  const before = polls.find((p) => p.id === next.id)
  const merged: Poll = { ...next }
  // A `poll` event says nothing of this participant's own choice.
  if (merged.my_choice === undefined && before?.my_choice !== undefined) merged.my_choice = before.my_choice
  // Counts a participant had (shown) are not taken back by a copy without them.
  if (merged.results === undefined && before?.results !== undefined && merged.results_shown) {
    merged.results = before.results
    merged.answers = before.answers
  }
  const rest = polls.filter((p) => p.id !== next.id)
  return [...rest, merged].sort((a, b) => a.opened_at.localeCompare(b.opened_at) || a.id.localeCompare(b.id))
}

/** The poll open now, if any (one at a time). */
export function openPoll(polls: readonly Poll[]): Poll | undefined {
  return polls.find((p) => p.closed_at === null)
}

/** The open poll this participant has not answered and not put off: the one to ask. */
export function pollToAsk(polls: readonly Poll[], putOff: ReadonlySet<string>): Poll | undefined {
  const open = openPoll(polls)
  return open && (open.my_choice === null || open.my_choice === undefined) && !putOff.has(open.id) ? open : undefined
}

/** The poll of a `poll` event (its `change` dropped). */
export function pollOfEvent(data: unknown): Poll {
  const { change: _change, ...poll } = data as Poll & { change?: string }
  return poll
}

export type PollChange = { kind: 'opened' | 'closed' | 'shown'; poll: Poll }

/** What changed between two lists, to be said: a poll opened, closed, or its results shown. */
export function pollChanges(before: readonly Poll[], after: readonly Poll[]): PollChange[] {
  const changes: PollChange[] = []
  for (const poll of after) {
    const was = before.find((p) => p.id === poll.id)
    if (!was) {
      if (poll.closed_at === null) changes.push({ kind: 'opened', poll })
      continue
    }
    if (was.closed_at === null && poll.closed_at !== null) changes.push({ kind: 'closed', poll })
    if (!was.results_shown && poll.results_shown) changes.push({ kind: 'shown', poll })
  }
  return changes
}
