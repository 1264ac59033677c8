// The learner's path: the join form, the classroom, and the screen after
// it. A seat kept from before a reload is taken back (POST
// /v1/participant/refresh) instead of joining again, so a reload does not
// take a second seat.

import { Suspense, lazy, useCallback, useEffect, useState } from 'react'
import { useTranslation } from 'react-i18next'

import { ApiError, api, type JoinRequest, type Joined } from '../api/client'
import { linkKey } from '../app/route'
import type { End } from '../live/session'
import { normalizeCode } from './join'
import { JoinForm, type FormError } from './JoinForm'
import { SessionOver } from './SessionOver'
import { clearSeat, loadSeat, saveSeat, type Seat } from './storage'

// The classroom (and LiveKit, most of the code) loads while the learner
// types: the join form shows sooner on a slow network.
const loadClassroom = () => import('./Classroom')
const Classroom = lazy(() => loadClassroom().then((m) => ({ default: m.Classroom })))

type Stage =
  | { kind: 'form'; code: string; error: FormError | null }
  | { kind: 'resuming'; seat: Seat }
  | { kind: 'class'; joined: Joined; code: string }
  | { kind: 'over'; end: End; code: string }

function seatOf(joined: Joined, code: string): Seat {
  return {
    session_id: joined.session_id,
    participant_id: joined.participant_id,
    participant_token: joined.participant_token,
    expires_at: joined.expires_at,
    code,
  }
}

function firstStage(code: string): Stage {
  const seat = loadSeat()
  if (seat && (code === '' || normalizeCode(code) === seat.code)) return { kind: 'resuming', seat }
  return { kind: 'form', code, error: null }
}

export function Learner({ code }: { code: string }) {
  const [stage, setStage] = useState<Stage>(() => firstStage(code))
  useEffect(() => {
    void loadClassroom()
  }, [])

  const enter = useCallback((joined: Joined, code: string) => {
    saveSeat(seatOf(joined, code))
    setStage({ kind: 'class', joined, code })
  }, [])

  useEffect(() => {
    if (stage.kind !== 'resuming') return
    let current = true
    const { seat } = stage
    api.refresh(seat.participant_token).then(
      (joined) => current && enter(joined, seat.code),
      (error: unknown) => {
        if (!current) return
        const failure = error instanceof ApiError ? error : new ApiError(0, 'network')
        if (failure.code === 'session_ended' || failure.code === 'token_revoked') {
          clearSeat()
          setStage({ kind: 'over', end: failure.code === 'session_ended' ? 'ended' : 'kicked', code: seat.code })
        } else if (failure.code === 'unauthorized') {
          clearSeat()
          setStage({ kind: 'form', code: seat.code, error: { field: 'name', key: 'errors.seat_expired' } })
        } else {
          setStage({ kind: 'over', end: 'lost', code: seat.code })
        }
      },
    )
    return () => {
      current = false
    }
  }, [stage, enter])

  const join = useCallback(
    async (request: JoinRequest) => {
      // The link's key goes with the code the link brought, not another.
      const link = request.code === normalizeCode(code) ? linkKey(window.location.hash) : undefined
      enter(await api.join(link ? { ...request, link } : request), request.code)
    },
    [enter, code],
  )

  const onEnd = useCallback((end: End, code: string) => {
    if (end !== 'lost') clearSeat()
    setStage({ kind: 'over', end, code })
  }, [])

  const rejoin = useCallback(() => {
    const seat = loadSeat()
    setStage(seat ? { kind: 'resuming', seat } : { kind: 'form', code: '', error: null })
  }, [])

  switch (stage.kind) {
    case 'form':
      return <JoinForm initialCode={stage.code} initialError={stage.error} onJoin={join} />
    case 'resuming':
      return <Entering />
    case 'class':
      return (
        <Suspense fallback={<Entering />}>
          <Classroom
            key={stage.joined.participant_token}
            joined={stage.joined}
            code={stage.code}
            onEnd={(end) => onEnd(end, stage.code)}
          />
        </Suspense>
      )
    case 'over':
      return (
        <SessionOver
          end={stage.end}
          onRejoin={rejoin}
          onJoinAnother={() => setStage({ kind: 'form', code: stage.end === 'left' ? stage.code : '', error: null })}
        />
      )
  }
}

function Entering() {
  const { t } = useTranslation()
  return (
    <>
      <h1>{t('class.title')}</h1>
      <p>{t('class.entering')}</p>
    </>
  )
}
