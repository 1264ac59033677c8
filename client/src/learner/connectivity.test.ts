import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'

import type { Connectivity } from '../api/client'
import { relayCheck, type CheckPeer } from './connectivity'

const servers: Connectivity = {
  livekit_url: 'wss://media.example.org',
  ice_servers: [{ urls: ['turns:turn.example.org:443?transport=tcp'], username: 'u', credential: 'c' }],
  ice_transport_policy: 'relay',
  expires_at: null,
}

type Candidate = { type: string | null; relayProtocol?: string | null } | null

function fakePeer(candidates: Candidate[]) {
  const made: { config: RTCConfiguration | null; closed: boolean } = { config: null, closed: false }
  const createPeer = (config: RTCConfiguration): CheckPeer => {
    made.config = config
    const peer: CheckPeer = {
      onicecandidate: null,
      createDataChannel: () => ({}),
      createOffer: async () => ({ type: 'offer', sdp: '' }),
      setLocalDescription: async () => {
        for (const candidate of candidates) peer.onicecandidate?.({ candidate })
      },
      close: () => {
        made.closed = true
      },
    }
    return peer
  }
  return { made, createPeer }
}

describe('the network check', () => {
  beforeEach(() => vi.useFakeTimers())
  afterEach(() => vi.useRealTimers())

  it('works when a relay candidate is gathered, using only the servers given, relay-only', async () => {
    const { made, createPeer } = fakePeer([{ type: 'relay', relayProtocol: 'tls' }])
    expect(await relayCheck(servers, { createPeer })).toEqual({ kind: 'works', protocol: 'tls' })
    expect(made.config).toEqual({ iceServers: servers.ice_servers, iceTransportPolicy: 'relay' })
    expect(made.closed).toBe(true)
  })

  it('is blocked when gathering ends without a relay', async () => {
    const { made, createPeer } = fakePeer([{ type: 'host' }, null])
    expect(await relayCheck(servers, { createPeer })).toEqual({ kind: 'blocked' })
    expect(made.closed).toBe(true)
  })

  it('is blocked when nothing comes before the time is up', async () => {
    const { createPeer } = fakePeer([])
    const outcome = relayCheck(servers, { createPeer, timeoutMs: 1000 })
    await vi.advanceTimersByTimeAsync(1000)
    expect(await outcome).toEqual({ kind: 'blocked' })
  })

  it('cannot tell when the server offers no relay', async () => {
    const { made, createPeer } = fakePeer([])
    expect(await relayCheck({ ...servers, ice_servers: [] }, { createPeer })).toEqual({ kind: 'no_relay' })
    expect(made.config).toBeNull()
  })
})
