// Keeps the participant token alive: renews it (POST /v1/participant/refresh)
// before it expires, stores it for a reload, and tells the session when the
// server says the class is over for this learner.

import { useCallback, useEffect, useRef } from 'react'

import { ApiError, api, type Joined } from '../api/client'
import type { SessionAction } from '../live/session'
import type { SeatAccess } from '../live/useStream'
import { renewalDelay, saveSeat } from './storage'

/** After a renewal that failed for a passing reason (network, overload), try again this soon. */
const RETRY_MS = 15_000

export function useSeat(joined: Joined, code: string, onSession: (action: SessionAction) => void): SeatAccess {
  const seat = useRef({ token: joined.participant_token, expiresAt: joined.expires_at })
  const timer = useRef<ReturnType<typeof setTimeout> | null>(null)

  const renew = useCallback(async (): Promise<boolean> => {
    if (timer.current) clearTimeout(timer.current)
    try {
      const fresh = await api.refresh(seat.current.token)
      seat.current = { token: fresh.participant_token, expiresAt: fresh.expires_at }
      saveSeat({
        session_id: fresh.session_id,
        participant_id: fresh.participant_id,
        participant_token: fresh.participant_token,
        expires_at: fresh.expires_at,
        code,
      })
      timer.current = setTimeout(() => void renew(), renewalDelay(fresh.expires_at, Date.now()))
      return true
    } catch (error) {
      const code = error instanceof ApiError ? error.code : 'network'
      if (code === 'session_ended') onSession({ type: 'session', status: 'ended' })
      else if (code === 'token_revoked') onSession({ type: 'kicked' })
      // Expired (a computer asleep past the token's life): this seat is gone.
      else if (code === 'unauthorized') onSession({ type: 'disconnected', cause: 'other' })
      else timer.current = setTimeout(() => void renew(), RETRY_MS)
      return false
    }
  }, [code, onSession])

  useEffect(() => {
    timer.current = setTimeout(() => void renew(), renewalDelay(seat.current.expiresAt, Date.now()))
    return () => {
      if (timer.current) clearTimeout(timer.current)
    }
  }, [renew])

  const token = useCallback(() => seat.current.token, [])
  return { token, renew }
}
