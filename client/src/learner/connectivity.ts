// The network check: can this browser reach the media relay? A peer
// connection limited to relays (`iceTransportPolicy: 'relay'`) and given
// only the servers of GET /v1/connectivity gathers a relay candidate only
// if it got through to a TURN server and was given an address there. That
// is the path a class takes from a network that lets only 443/tcp out; the
// rest of the way (relay to media server) is the server's side.

import type { Connectivity } from '../api/client'

export type CheckOutcome =
  | { kind: 'works'; protocol: string | null }
  | { kind: 'blocked' }
  /** The server offers no relay: the check cannot tell. */
  | { kind: 'no_relay' }

/** What the check uses of RTCPeerConnection. */
export interface CheckPeer {
  onicecandidate: ((event: { candidate: { type: string | null; relayProtocol?: string | null } | null }) => void) | null
  createDataChannel(label: string): unknown
  createOffer(): Promise<RTCSessionDescriptionInit>
  setLocalDescription(description: RTCSessionDescriptionInit): Promise<void>
  close(): void
}

export interface CheckOptions {
  createPeer?: (config: RTCConfiguration) => CheckPeer
  timeoutMs?: number
}

export const CHECK_TIMEOUT_MS = 15_000

export function relayCheck(connectivity: Connectivity, options: CheckOptions = {}): Promise<CheckOutcome> {
  if (connectivity.ice_servers.length === 0) return Promise.resolve({ kind: 'no_relay' })
  const createPeer = options.createPeer ?? ((config) => new RTCPeerConnection(config) as unknown as CheckPeer)
  const peer = createPeer({
    iceServers: connectivity.ice_servers,
    iceTransportPolicy: 'relay',
  })
  return new Promise<CheckOutcome>((resolve) => {
    let settled = false
    const finish = (outcome: CheckOutcome) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      peer.onicecandidate = null
      peer.close()
      resolve(outcome)
    }
    const timer = setTimeout(() => finish({ kind: 'blocked' }), options.timeoutMs ?? CHECK_TIMEOUT_MS)
    peer.onicecandidate = ({ candidate }) => {
      // A null candidate: gathering is over without a relay.
      if (candidate === null) finish({ kind: 'blocked' })
      else if (candidate.type === 'relay') finish({ kind: 'works', protocol: candidate.relayProtocol ?? null })
    }
    // Something to negotiate, so that gathering starts.
    peer.createDataChannel('check')
    peer
      .createOffer()
      .then((offer) => peer.setLocalDescription(offer))
      .catch(() => finish({ kind: 'blocked' }))
  })
}
