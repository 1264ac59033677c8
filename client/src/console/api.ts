// The console's calls to Estrade's HTTP API, through the one request helper
// (api/client.ts). They carry no Authorization header: signing in
// (POST /v1/console/session, the API key sent once, in the body) sets an
// HttpOnly cookie that the browser sends with every same-origin request by
// itself. The key is never kept: not in storage, the address or a log.

import { createCall, type FloorMode, type FloorView, type Question, type SessionStatus } from '../api/client'
import type { Poll } from '../live/polls'
import type { Report } from './report'

export type Role = 'teacher' | 'admin'

export interface Account {
  id: string
  name: string
  role: Role
}

/** `POST` and `GET /v1/console/session`. */
export interface SignedIn {
  account: Account
  expires_at: string
}

export interface FloorSettings {
  mode: FloorMode
  max_speakers: number
  /** Seconds a turn lasts; null for no limit. */
  speaking_time_limit_s: number | null
}

/** A session (a class), as `GET /v1/sessions/{id}` answers. */
export interface Session {
  id: string
  title: string
  room_name: string
  join_code: string
  join_url: string
  status: SessionStatus
  teacher_id: string
  floor: FloorSettings
  max_learners: number
  locked: boolean
  created_at: string
  started_at: string | null
  ended_at: string | null
}

export interface NewSession {
  title: string
  floor?: FloorSettings
  max_learners?: number
}

export interface SessionChange {
  locked?: boolean
  rotate_join_code?: true
  title?: string
}

export interface PublishToken {
  livekit_url: string
  token: string
  identity: string
  expires_at: string
}

export type ParticipantKind = 'teacher' | 'learner' | 'classroom' | 'observer'

export type Presence = 'invited' | 'present' | 'left'

export interface Participant {
  id: string
  kind: ParticipantKind
  identity: string
  name: string
  /** How many people a classroom stands for. */
  headcount: number | null
  presence: Presence
  kicked: boolean
  /** A microphone published in LiveKit without the floor (absent from an older server). */
  unauthorized_microphone?: boolean
  created_at: string
  joined_at: string | null
  left_at: string | null
}

export type Revoke = { participant_id: string } | { all: true }

const sessionPath = (id: string) => `/v1/sessions/${encodeURIComponent(id)}`

export function createConsoleApi(fetchFn: typeof fetch) {
  const call = createCall(fetchFn)
  return {
    signIn: (apiKey: string) => call<SignedIn>('POST', '/v1/console/session', undefined, { api_key: apiKey }),
    /** Who is signed in; a 401 means nobody (show the sign-in). */
    whoami: () => call<SignedIn>('GET', '/v1/console/session'),
    signOut: () => call<void>('DELETE', '/v1/console/session'),

    sessions: () => call<{ sessions: Session[] }>('GET', '/v1/sessions'),
    createSession: (request: NewSession) => call<Session>('POST', '/v1/sessions', undefined, request),
    session: (id: string) => call<Session>('GET', sessionPath(id)),
    updateSession: (id: string, change: SessionChange) => call<Session>('PATCH', sessionPath(id), undefined, change),
    start: (id: string) => call<Session>('POST', `${sessionPath(id)}/start`),
    end: (id: string) => call<Session>('POST', `${sessionPath(id)}/end`),
    publishToken: (id: string) => call<PublishToken>('POST', `${sessionPath(id)}/publish-token`),
    /** Admins: a hidden, subscribe-only token to watch the class. */
    observerToken: (id: string) => call<PublishToken>('POST', `${sessionPath(id)}/observer-token`),

    floor: (id: string) => call<FloorView>('GET', `${sessionPath(id)}/floor`),
    /** To `participantId`, or to the next in line. */
    grant: (id: string, participantId?: string) =>
      call<FloorView>('POST', `${sessionPath(id)}/floor/grant`, undefined, participantId ? { participant_id: participantId } : {}),
    /** From one participant (its turn, or its raised hand), or from every speaker. */
    revoke: (id: string, whom: Revoke) => call<FloorView>('POST', `${sessionPath(id)}/floor/revoke`, undefined, whom),
    configureFloor: (id: string, settings: FloorSettings) =>
      call<FloorView>('PUT', `${sessionPath(id)}/floor`, undefined, settings),

    participants: (id: string) => call<{ participants: Participant[] }>('GET', `${sessionPath(id)}/participants`),
    kick: (id: string, participantId: string) =>
      call<Participant>('POST', `${sessionPath(id)}/participants/${encodeURIComponent(participantId)}/kick`),
    /** The fairness report, during the class or after it. */
    report: (id: string) => call<Report>('GET', `${sessionPath(id)}/report`),
    /** Every typed question of the class, oldest first. */
    questions: (id: string) => call<{ questions: Question[] }>('GET', `${sessionPath(id)}/questions`),
    /** Answered aloud (`floor` false), or by giving its author the floor. */
    answerQuestion: (id: string, questionId: string, floor: boolean) =>
      call<Question>('POST', `${sessionPath(id)}/questions/${encodeURIComponent(questionId)}/answer`, undefined, { floor }),
    dismissQuestion: (id: string, questionId: string) =>
      call<Question>('POST', `${sessionPath(id)}/questions/${encodeURIComponent(questionId)}/dismiss`),
    polls: (id: string) => call<{ polls: Poll[] }>('GET', `${sessionPath(id)}/polls`),
    openPoll: (id: string, poll: { question: string; choices: string[] }) =>
      call<Poll>('POST', `${sessionPath(id)}/polls`, undefined, poll),
    /** Closes (if open) and, with `show`, shows the counts to everyone. */
    closePoll: (id: string, pollId: string, show: boolean) =>
      call<Poll>('POST', `${sessionPath(id)}/polls/${encodeURIComponent(pollId)}/close`, undefined, { show_results: show }),
  }
}

export type ConsoleApi = ReturnType<typeof createConsoleApi>

export const consoleApi: ConsoleApi = createConsoleApi((input, init) => fetch(input, init))
