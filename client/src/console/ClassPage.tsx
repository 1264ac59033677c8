// One class, as its teacher runs it: its status and controls, the
// invitation, the camera and microphone, the raised hands and typed
// questions, the floor, the participants, the polls, the report of who
// got to speak and, for an admin, watching unseen, all kept current by the class's live updates (the stream,
// followed with the console's cookie) and the answers to the teacher's
// commands. Loaded only when a class is opened.

import { useCallback, useEffect, useMemo, useRef, useState } from 'react'
import { useTranslation } from 'react-i18next'

import { useCues } from '../a11y/AnnouncerProvider'
import { useKeyShortcuts } from '../a11y/useShortcuts'
import type { FloorView, Question } from '../api/client'
import { Link } from '../app/Link'
import type { Poll } from '../live/polls'
import { usePage } from '../app/usePage'
import type { FloorSettings, Participant, Session } from './api'
import { ClassControls } from './ClassControls'
import { useConsole } from './context'
import { consoleMessage, isExpiry, type Said } from './errors'
import { FloorSection } from './FloorSection'
import { Hands } from './Hands'
import { sortedQueue } from './hands'
import { Invite } from './Invite'
import { Observe } from './Observe'
import { debounce } from '../app/debounce'
import { Participants } from './Participants'
import { PollsSection } from './PollsSection'
import { Publisher } from './Publisher'
import { ReportSection } from './ReportSection'
import { laterStatus, statusCues, withEvent } from './session'
import { CONSOLE_SHORTCUTS, type ConsoleAction } from './shortcuts'
import { loadHandSound, loadShortcutsEnabled, saveHandSound, saveShortcutsEnabled, type HandSound } from './storage'
import { useClassQuestions } from './useClassQuestions'
import { useClassStream } from './useClassStream'
import { useConsoleFloor } from './useConsoleFloor'

/** Presence events come in bursts (a classroom arriving): one list request after the last. */
const PRESENCE_DEBOUNCE_MS = 400
/** How often the participants are read again while live (their microphone flags). */
const PARTICIPANTS_REFRESH_MS = 10_000

type Section = 'hands' | 'floor' | 'participants'

export function ClassPage({ id }: { id: string }) {
  const { t } = useTranslation()
  const cue = useCues()
  const { api, account } = useConsole()
  const [session, setSession] = useState<Session | null>(null)
  const [missing, setMissing] = useState<Said | null>(null)
  const latest = useRef<Session | null>(null)
  const [sound, setSound] = useState<HandSound>(() => loadHandSound())
  const [shortcuts, setShortcuts] = useState(() => loadShortcutsEnabled())
  const [floor, applyFloor] = useConsoleFloor(sound)
  const [participants, setParticipants] = useState<Participant[]>([])
  const [failures, setFailures] = useState<Partial<Record<Section, Said>>>({})
  const grantNext = useRef<HTMLButtonElement>(null)
  const [incomingPoll, setIncomingPoll] = useState<Poll | null>(null)
  const [questions, takeQuestions] = useClassQuestions(api, id)

  const heading = usePage<HTMLHeadingElement>(
    session ? t('console.class.page_title', { title: session.title }) : t('console.class.loading_title'),
  )

  const showSession = useCallback(
    (next: Session) => {
      const previous = latest.current
      const shown = previous ? { ...next, status: laterStatus(previous.status, next.status) } : next
      latest.current = shown
      setSession(shown)
      const cues = statusCues(previous?.status ?? null, shown.status)
      if (cues.length > 0) cue(cues)
    },
    [cue],
  )

  const lost = useCallback((error: unknown) => {
    if (!isExpiry(error)) setMissing(consoleMessage(error))
  }, [])

  const loadParticipants = useCallback(
    () =>
      api.participants(id).then(
        (list) => setParticipants(list.participants),
        () => {
          // The next presence event asks again.
        },
      ),
    [api, id],
  )

  useEffect(() => {
    api.session(id).then(showSession, lost)
    api.floor(id).then(applyFloor, () => {
      // The stream's first event carries the floor too.
    })
    void loadParticipants()
  }, [api, id, showSession, lost, applyFloor, loadParticipants])

  const presence = useMemo(() => debounce(() => void loadParticipants(), PRESENCE_DEBOUNCE_MS), [loadParticipants])
  useEffect(() => () => presence.cancel(), [presence])

  // A microphone opened without the floor comes with no presence event: while
  // the class is live, the list is also read again now and then, and after
  // floor changes.
  const status = session?.status
  useEffect(() => {
    if (status !== 'live') return
    const timer = setInterval(() => void loadParticipants(), PARTICIPANTS_REFRESH_MS)
    return () => clearInterval(timer)
  }, [status, loadParticipants])

  const stream = useClassStream(id, {
    onFloor: (view) => {
      applyFloor(view)
      presence.call()
    },
    onSession: (event) => {
      if (latest.current) showSession(withEvent(latest.current, event))
    },
    onPresence: () => presence.call(),
    onPoll: setIncomingPoll,
    onQuestion: (q) => takeQuestions([q]),
    // Refused: the sign-in expired (the guard takes the teacher back) or the class is not theirs.
    onRefused: () => void api.session(id).then(showSession, lost),
  })

  /** A floor command: its answer is the new floor; a failure is said and shown in its section. */
  const command = useCallback(
    async (section: Section, call: () => Promise<FloorView>, rethrow = false) => {
      try {
        applyFloor(await call())
        setFailures((f) => ({ ...f, [section]: undefined }))
      } catch (thrown) {
        if (rethrow) throw thrown
        if (isExpiry(thrown)) return
        const said = consoleMessage(thrown)
        setFailures((f) => ({ ...f, [section]: said }))
        cue([{ key: said.key, values: said.values, politeness: 'assertive', topic: `command:${section}` }])
      }
    },
    [applyFloor, cue],
  )

  /** Answers or sets aside a typed question; the floor's change comes by the stream. */
  const questionCommand = async (call: () => Promise<Question>) => {
    try {
      const q = await call()
      takeQuestions([q])
      setFailures((f) => ({ ...f, hands: undefined }))
      if (q.status === 'answered') {
        cue([{ key: 'console.hands.answered', values: { name: q.name }, politeness: 'polite', topic: 'question' }])
      }
    } catch (thrown) {
      if (isExpiry(thrown)) return
      const said = consoleMessage(thrown)
      setFailures((f) => ({ ...f, hands: said }))
      cue([{ key: said.key, values: said.values, politeness: 'assertive', topic: 'command:hands' }])
    }
  }

  const grantNextInLine = () => void command('hands', () => api.grant(id))
  const revokeAll = () =>
    void command('hands', async () => {
      const view = await api.revoke(id, { all: true })
      cue([{ key: 'console.floor.revoked_all', politeness: 'polite', topic: 'revoke' }])
      return view
    })

  const onShortcut = (action: ConsoleAction) => (action === 'grant_next' ? grantNextInLine() : revokeAll())
  // The floor is the class's own teacher's to run (an admin sees it, and
  // may remove participants or end the class).
  const runsFloor = session !== null && account.id === session.teacher_id
  useKeyShortcuts(CONSOLE_SHORTCUTS, shortcuts && runsFloor, onShortcut)

  const kick = async (p: Participant) => {
    try {
      await api.kick(id, p.id)
      setFailures((f) => ({ ...f, participants: undefined }))
      cue([{ key: 'console.participants.kicked', values: { name: p.name }, politeness: 'polite', topic: 'kick' }])
    } catch (thrown) {
      if (isExpiry(thrown)) return
      const said = consoleMessage(thrown)
      setFailures((f) => ({ ...f, participants: said }))
      cue([{ key: said.key, values: said.values, politeness: 'assertive', topic: 'kick' }])
    }
    void loadParticipants()
  }

  return (
    <>
      <p className="back">
        <Link href="/console">{t('console.class.back')}</Link>
      </p>
      <h1 ref={heading} tabIndex={-1}>
        {session ? session.title : missing ? t('console.class.missing') : t('console.class.loading_title')}
      </h1>
      {missing && <p className="warning">{t(missing.key, missing.values)}</p>}
      {session && (
        <>
          <ClassControls session={session} onSession={showSession} heading={heading} />
          {stream === 'retrying' && <p className="notice">{t('console.class.stream_retrying')}</p>}
          <div className="console-grid">
            {session.status !== 'ended' && <Invite session={session} onSession={showSession} />}
            <Publisher session={session} />
            {account.role === 'admin' && session.status === 'live' && <Observe sessionId={id} />}
            <Hands
              runsFloor={runsFloor}
              queue={sortedQueue(floor.view)}
              questions={questions}
              participants={participants}
              failure={failures.hands ?? null}
              grantNextRef={grantNext}
              onGrant={(pid) => void command('hands', () => api.grant(id, pid))}
              onLower={(pid) => void command('hands', () => api.revoke(id, { participant_id: pid }))}
              onAnswer={(qid) => void questionCommand(() => api.answerQuestion(id, qid, false))}
              onDismiss={(qid) => void questionCommand(() => api.dismissQuestion(id, qid))}
              onGrantNext={grantNextInLine}
              onRevokeAll={revokeAll}
              sound={sound}
              onSound={(next) => {
                saveHandSound(next)
                setSound(next)
              }}
              shortcuts={shortcuts}
              onShortcuts={(on) => {
                saveShortcutsEnabled(on)
                setShortcuts(on)
              }}
            />
            <FloorSection
              runsFloor={runsFloor}
              view={floor.view}
              failure={failures.floor ?? null}
              onRevoke={(pid) => void command('floor', () => api.revoke(id, { participant_id: pid }))}
              onConfigure={(settings: FloorSettings) => command('floor', () => api.configureFloor(id, settings), true)}
            />
            <Participants participants={participants} failure={failures.participants ?? null} onKick={(p) => void kick(p)} />
            <PollsSection sessionId={id} status={session.status} runsFloor={runsFloor} incoming={incomingPoll} />
            <ReportSection sessionId={id} status={session.status} floorVersion={floor.view?.version ?? null} />
          </div>
        </>
      )}
    </>
  )
}
