// The class: the LiveKit room, the live updates and the seat's renewal,
// the two state machines they feed, and the learner's floor requests.

import { RoomAudioRenderer, RoomContext } from '@livekit/components-react'
import { useCallback, useEffect, useRef, useState } from 'react'
import { useTranslation } from 'react-i18next'

import { useCues } from '../a11y/AnnouncerProvider'
import { ApiError, api, type FloorView, type Joined } from '../api/client'
import type { MessageKey } from '../i18n'
import { initialFloor, maySpeak, step as floorStep, type Request } from '../live/floor'
import { initialSession, phaseOf, sessionStep, type End } from '../live/session'
import { useLiveRoom, closeMic, muteMic, openMic, type MicOpening } from '../live/useLiveRoom'
import { useMachine } from '../live/useMachine'
import { useMutedTalking } from '../live/useMutedTalking'
import { pollChanges, pollToAsk, type Poll } from '../live/polls'
import { useStream } from '../live/useStream'
import { useTeacher } from '../live/useTeacher'
import { FloorPanel } from './FloorPanel'
import { PollDialog } from './PollDialog'
import { PollPanel } from './PollPanel'
import { QuestionForm } from './QuestionForm'
import { usePolls } from './usePolls'
import { useQuestions } from './useQuestions'
import type { ShortcutAction } from './shortcuts'
import { ShortcutsDialog } from './ShortcutsDialog'
import { SoundUnlock } from './SoundUnlock'
import { Speakers } from './Speakers'
import { loadShortcutsEnabled, saveShortcutsEnabled } from './storage'
import { TeacherStage } from './TeacherStage'
import { useMicrophonePermission } from './useMicrophonePermission'
import { useSeat } from './useSeat'
import { useShortcuts } from './useShortcuts'

interface Props {
  joined: Joined
  code: string
  onEnd: (end: End) => void
}

const MIC_FAILURES: Record<Exclude<MicOpening, 'opened'>, MessageKey> = {
  not_allowed: 'mic.not_allowed',
  blocked: 'mic.blocked',
  missing: 'mic.missing',
  failed: 'mic.failed',
}

export function Classroom({ joined, code, onEnd }: Props) {
  const { t } = useTranslation()
  const cue = useCues()
  const me = joined.participant_id
  const [session, onSession] = useMachine(sessionStep, () => initialSession)
  const [floor, onFloor] = useMachine(floorStep, () => initialFloor(me))
  const seat = useSeat(joined, code, onSession)
  const room = useLiveRoom(joined.livekit_url, joined.livekit_token, onSession, onFloor)
  const polls = usePolls(joined.session_id, seat)
  const questions = useQuestions(joined.session_id, me, seat)
  useStream(joined.session_id, me, seat, onFloor, onSession, {
    onPoll: polls.onPoll,
    onQuestion: questions.onQuestion,
  })
  const teacher = useTeacher(room)
  const permission = useMicrophonePermission()
  const primary = useRef<HTMLButtonElement>(null)
  const [shortcuts, setShortcuts] = useState(loadShortcutsEnabled)
  const phase = phaseOf(session)
  const [putOff, setPutOff] = useState<ReadonlySet<string>>(() => new Set())
  const [reopened, setReopened] = useState<string | null>(null)
  const [pollError, setPollError] = useState<MessageKey | null>(null)
  const asked =
    polls.polls.find((p) => p.id === reopened && p.closed_at === null) ?? pollToAsk(polls.polls, putOff) ?? null
  const latestPoll = polls.polls.find((p) => p.closed_at === null) ?? polls.polls.at(-1)

  // Said as they happen: a poll opened, closed, its results shown.
  const seenPolls = useRef<Poll[]>([])
  useEffect(() => {
    const changes = pollChanges(seenPolls.current, polls.polls)
    seenPolls.current = polls.polls
    for (const { kind, poll } of changes) {
      cue([{ key: `poll.said_${kind}`, values: { question: poll.question }, politeness: 'polite', topic: `poll:${kind}` }])
    }
  }, [polls.polls, cue])

  async function answerPoll(poll: Poll, choice: number) {
    try {
      await polls.answer(poll.id, choice)
      setPollError(null)
      setReopened(null)
      cue([{ key: 'poll.said_answered', values: { choice: poll.choices[choice] ?? '' }, politeness: 'polite', topic: 'poll:answer' }])
    } catch (error) {
      const failure = error instanceof ApiError ? error : new ApiError(0, 'network')
      setPollError(failure.messageKey())
      say(failure.messageKey(), failure.values())
      throw error
    }
  }

  const teacherCamera = teacher.camera !== null
  useEffect(() => {
    onSession({
      type: 'teacher',
      teacher: { present: teacher.present, camera: teacherCamera, microphone: teacher.microphone },
    })
  }, [onSession, teacher.present, teacherCamera, teacher.microphone])

  useEffect(() => {
    if (session.end) onEnd(session.end)
  }, [session.end, onEnd])

  // The turn is over, whatever ended it: the microphone stops here too.
  useEffect(() => {
    if (!maySpeak(floor.learner) && floor.mic !== 'off') void closeMic(room)
  }, [floor.learner, floor.mic, room])

  const say = useCallback(
    (key: MessageKey, values?: Record<string, number>) =>
      cue([{ key, values, politeness: 'assertive', topic: 'floor' }]),
    [cue],
  )

  /** Sends a hand request, renewing the token once if it expired meanwhile. */
  async function send(request: Request, call: (token: string) => Promise<FloorView>) {
    if (floor.pending !== null) return
    onFloor({ type: 'asked', request })
    try {
      let view: FloorView
      try {
        view = await call(seat.token())
      } catch (error) {
        if (!(error instanceof ApiError && error.code === 'unauthorized' && (await seat.renew()))) throw error
        view = await call(seat.token())
      }
      onFloor({ type: 'view', view, from: 'answer' })
    } catch (error) {
      onFloor({ type: 'request_failed' })
      const failure = error instanceof ApiError ? error : new ApiError(0, 'network')
      say(failure.messageKey(), failure.values())
    }
  }

  const raise = () => send('raise', (token) => api.raiseHand(joined.session_id, token))
  const lower = () => send('lower', (token) => api.lowerHand(joined.session_id, token))
  const learner = floor.learner
  const canAsk =
    questions.waiting === null && (learner.kind === 'idle' || (learner.kind === 'queued' && !learner.question))
  async function ask(text: string) {
    const asked = await questions.ask(text)
    // The form goes while the question waits: the focus goes to where it can be withdrawn.
    primary.current?.focus()
    return asked
  }
  const giveBack = () => {
    void closeMic(room)
    return send('give_back', (token) => api.lowerHand(joined.session_id, token))
  }
  async function toggleMic() {
    if (floor.learner.kind === 'speaking' && floor.learner.mic === 'live') {
      await muteMic(room)
      return
    }
    const opened = await openMic(room)
    if (opened !== 'opened') say(MIC_FAILURES[opened])
  }

  function onShortcut(action: ShortcutAction) {
    const l = floor.learner
    if (action === 'hand' && (l.kind === 'idle' || l.kind === 'unknown')) void raise()
    // A typed question is withdrawn with its button, not by the hand's key.
    else if (action === 'hand' && l.kind === 'queued' && !l.question) void lower()
    else if (action === 'mic' && maySpeak(l)) void toggleMic()
    else if (action === 'give_back' && maySpeak(l)) void giveBack()
    else cue([{ key: 'shortcuts.not_now', politeness: 'polite', topic: 'shortcut' }])
  }
  useShortcuts(shortcuts, onShortcut)

  const onTalkingMuted = useCallback(
    () => cue([{ key: 'mic.talking_muted', politeness: 'assertive', topic: 'mic' }]),
    [cue],
  )
  const talkingMuted = useMutedTalking(
    room,
    floor.learner.kind === 'speaking' && floor.learner.mic === 'muted',
    onTalkingMuted,
  )

  return (
    <RoomContext.Provider value={room}>
      <RoomAudioRenderer room={room} />
      <div className="classroom">
        <div className="class-bar">
          {/* A replica not yet upgraded sends no title. */}
          <h1>{joined.session_title ? t('class.named', { title: joined.session_title }) : t('class.title')}</h1>
          <p className="class-state">
            {t(`phase.${phase}`)}
            {session.connection === 'connected' && ` · ${t(`quality.${session.quality}`)}`}
          </p>
          <div className="class-actions">
            <ShortcutsDialog
              enabled={shortcuts}
              onEnabledChange={(on) => {
                saveShortcutsEnabled(on)
                setShortcuts(on)
              }}
            />
            <button type="button" onClick={() => onSession({ type: 'left' })}>
              {t('class.leave')}
            </button>
          </div>
        </div>
        <SoundUnlock room={room} onUnlocked={() => primary.current?.focus()} />
        <TeacherStage phase={phase} teacher={teacher} />
        <div className="class-side">
          <FloorPanel
            floor={floor}
            permission={permission}
            talkingMuted={talkingMuted}
            primary={primary}
            onRaise={raise}
            onLower={lower}
            onToggleMic={toggleMic}
            onGiveBack={giveBack}
          />
          <QuestionForm questions={questions.list} canAsk={canAsk} onAsk={ask} />
          <PollPanel
            poll={latestPoll}
            onOpen={() => {
              if (latestPoll) setReopened(latestPoll.id)
            }}
          />
          <Speakers room={room} view={floor.view} me={me} teacherName={teacher.name} />
        </div>
        <PollDialog
          poll={asked}
          error={pollError}
          onAnswer={(choice) => (asked ? answerPoll(asked, choice) : Promise.resolve())}
          onLater={() => {
            if (asked) setPutOff((s) => new Set(s).add(asked.id))
            setReopened(null)
            setPollError(null)
          }}
        />
      </div>
    </RoomContext.Provider>
  )
}
