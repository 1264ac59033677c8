// The field of the 443-only proof, made of real parts in network
// namespaces this test creates (root only):
//
//   campus (10.214.0.1)  ── veth ──  server: turn.estrade.test 10.214.0.2 (coturn, TLS on 443)
//   learner's Chromium                        app.estrade.test  10.214.0.3 (estrade dev on 443)
//   firewall: only TCP to 443 leaves          lk.estrade.test   10.214.0.4 (LiveKit v1.13.5 on 443)
//                                             the teacher bot, PostgreSQL, Redis (on its loopback)
//   this test's own namespace (10.214.1.1) ── veth ── server (10.214.1.2): API calls, LiveKit's API
//
// LiveKit is configured as compose/livekit.yaml renders it: its only ICE
// server for clients is `turn.estrade.test:443` over TLS, with the
// per-participant credential it derives from coturn's shared secret
// (`secret_file`); coturn relays only to LiveKit's address. Names resolve
// through /etc/netns/<name>/hosts. The campus Chromium trusts the test's
// own CA through an NSS database in its HOME. Nothing here reaches an
// address the test did not make.

import { execFileSync, spawn } from 'node:child_process'
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

import { RoomServiceClient } from 'livekit-server-sdk'

import { repo, until } from './harness.mjs'

export const DOMAIN = 'estrade.test'
export const IP = {
  campus: '10.214.0.1',
  turn: '10.214.0.2',
  app: '10.214.0.3',
  livekit: '10.214.0.4',
  here: '10.214.1.1',
  serverCtl: '10.214.1.2',
}
const HOSTS = `${IP.turn} turn.${DOMAIN}\n${IP.app} app.${DOMAIN}\n${IP.livekit} lk.${DOMAIN}\n`
const KEY = 'estrade-field'
const SECRET = 'field-livekit-secret-0123456789abcdefghij'
const TURN_SECRET = 'field-turn-shared-secret-0123456789abcdef'

/** The campus firewall: only TCP to port 443 leaves, and only replies to
 * what left come in (a campus edge is stateful both ways: without the
 * input chain, LiveKit's own checks to the campus would open a UDP path). */
const CAMPUS_FIREWALL = `table inet campus {
  chain output {
    type filter hook output priority 0; policy drop;
    oif "lo" accept
    ct state established,related accept
    tcp dport 443 accept
    counter comment "dropped"
  }
  chain input {
    type filter hook input priority 0; policy drop;
    iif "lo" accept
    ct state established,related accept
  }
}`

const sh = (command, args, options = {}) => execFileSync(command, args, { encoding: 'utf8', ...options })
const nft = (ns, rules) => sh('ip', ['netns', 'exec', ns, 'nft', '-f', '-'], { input: rules })

/** Why the field cannot be built here, or null when it can. */
export function missing() {
  if (process.getuid?.() !== 0) return 'it needs root (ip netns, nftables): scripts/test runs it as root'
  for (const tool of ['ip', 'nft', 'turnserver', 'openssl', 'certutil', '/usr/bin/chromium']) {
    try {
      sh('sh', ['-c', `command -v ${tool}`])
    } catch {
      return `${tool} is not installed (scripts/test installs it)`
    }
  }
  if (!process.env.LIVEKIT_SERVER_BIN) return 'LIVEKIT_SERVER_BIN is not set (scripts/test sets it)'
  return null
}

/** A CA and, signed by it, a certificate for `turn.estrade.test`. */
function certificates(dir) {
  const file = (name) => join(dir, name)
  sh('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=Estrade field test CA',
    '-keyout', file('ca.key'), '-out', file('ca.pem'),
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'])
  sh('openssl', ['req', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=turn.${DOMAIN}`,
    '-keyout', file('turn.key'), '-out', file('turn.csr')])
  writeFileSync(file('turn.ext'), `subjectAltName=DNS:turn.${DOMAIN}\nextendedKeyUsage=serverAuth\n`)
  sh('openssl', ['x509', '-req', '-in', file('turn.csr'), '-CA', file('ca.pem'), '-CAkey', file('ca.key'),
    '-CAcreateserial', '-days', '1', '-extfile', file('turn.ext'), '-out', file('turn.pem')])
  return { ca: file('ca.pem'), cert: file('turn.pem'), key: file('turn.key') }
}

/** LiveKit's configuration, as compose/livekit.yaml renders it, on the field's addresses. */
function livekitConfig(dir, device, { turnHost }) {
  const secretFile = join(dir, 'turn_secret')
  writeFileSync(secretFile, TURN_SECRET)
  chmodSync(secretFile, 0o400)
  const config = {
    port: 443,
    bind_addresses: [IP.livekit],
    log_level: 'warn',
    rtc: {
      tcp_port: 7881,
      port_range_start: 50000,
      port_range_end: 50200,
      use_external_ip: false,
      node_ip: IP.livekit,
      interfaces: { includes: [device] },
      turn_servers: [{ host: turnHost, port: 443, protocol: 'tls', secret_file: secretFile, ttl: 14400 }],
    },
    turn: { enabled: false },
    keys: { [KEY]: SECRET },
    room: { auto_create: false, empty_timeout: 300, departure_timeout: 600 },
    webhook: { api_key: KEY, urls: [`http://${IP.app}:443/webhooks/livekit`] },
  }
  // YAML is a superset of JSON.
  const file = join(dir, 'livekit.yaml')
  writeFileSync(file, JSON.stringify(config, null, 2))
  return file
}

/**
 * Builds the field and starts everything in it. `mutation` breaks one
 * part on purpose, to see the proof fail: `no-tls` (coturn without its TLS
 * listener) or `wrong-turn` (LiveKit hands clients a relay name that is not
 * coturn's).
 */
export async function startField({ mutation = process.env.ESTRADE_FIELD_MUTATION ?? '' } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'estrade-field-'))
  chmodSync(dir, 0o755)
  const tag = String(process.pid % 100_000)
  const ns = { campus: `estf-campus-${tag}`, server: `estf-server-${tag}` }
  const dev = { campus: `efc${tag}`, server: `efs${tag}`, here: `efh${tag}`, serverCtl: `efk${tag}` }
  const children = []
  const field = { dir, ns, children, mutation }

  const ip = (...args) => sh('ip', args)
  ip('netns', 'add', ns.campus)
  ip('netns', 'add', ns.server)
  for (const name of Object.values(ns)) {
    mkdirSync(`/etc/netns/${name}`, { recursive: true })
    writeFileSync(`/etc/netns/${name}/hosts`, `127.0.0.1 localhost\n${HOSTS}`)
  }
  ip('link', 'add', dev.campus, 'type', 'veth', 'peer', 'name', dev.server)
  ip('link', 'set', dev.campus, 'netns', ns.campus)
  ip('link', 'set', dev.server, 'netns', ns.server)
  ip('-n', ns.campus, 'addr', 'add', `${IP.campus}/24`, 'dev', dev.campus)
  for (const address of [IP.turn, IP.app, IP.livekit]) ip('-n', ns.server, 'addr', 'add', `${address}/24`, 'dev', dev.server)
  ip('link', 'add', dev.here, 'type', 'veth', 'peer', 'name', dev.serverCtl)
  ip('link', 'set', dev.serverCtl, 'netns', ns.server)
  ip('addr', 'add', `${IP.here}/24`, 'dev', dev.here)
  ip('-n', ns.server, 'addr', 'add', `${IP.serverCtl}/24`, 'dev', dev.serverCtl)
  for (const [where, device] of [[ns.campus, dev.campus], [ns.server, dev.server], [ns.server, dev.serverCtl]]) {
    ip('-n', where, 'link', 'set', device, 'up')
    ip('-n', where, 'link', 'set', 'lo', 'up')
  }
  ip('link', 'set', dev.here, 'up')
  ip('link', 'set', 'lo', 'up')
  ip('route', 'add', '10.214.0.0/24', 'via', IP.serverCtl)

  nft(ns.campus, CAMPUS_FIREWALL)
  // What arrives from the campus, counted where it lands: all of it, and the TCP to 443.
  nft(ns.server, `table inet watch {
  chain input {
    type filter hook input priority 0; policy accept;
    iifname "${dev.server}" ip saddr ${IP.campus} tcp dport 443 counter comment "to443"
    iifname "${dev.server}" ip saddr ${IP.campus} counter comment "all"
  }
}`)

  const inServer = (name, command, args, env = {}) => {
    const log = join(dir, `${name}.log`)
    // The suite's PostgreSQL and Redis are not reachable from the server: estrade dev starts its own.
    const child = spawn('sh', ['-c', `exec "$@" >>${log} 2>&1`, 'sh', 'ip', 'netns', 'exec', ns.server, 'env',
      '-u', 'DATABASE_URL', '-u', 'REDIS_URL', ...Object.entries(env).map(([k, v]) => `${k}=${v}`), command, ...args],
      { stdio: 'ignore' })
    children.push(child)
    return { child, log }
  }
  const listening = (address, port) =>
    until(() => sh('ip', ['netns', 'exec', ns.server, 'ss', '-ltnH']).includes(`${address}:${port}`), {
      timeout: 30_000,
      what: `something listening on ${address}:${port}`,
    })

  // coturn: TLS on 443 (the production pair is Traefik's SNI router in
  // front of coturn's TCP listener; the campus sees the same thing),
  // relaying only to LiveKit's address.
  const certs = certificates(dir)
  const turnConf = join(dir, 'turnserver.conf')
  writeFileSync(turnConf, [
    `listening-ip=${IP.turn}`, `relay-ip=${IP.turn}`, 'listening-port=3478',
    mutation === 'no-tls' ? 'no-tls' : 'tls-listening-port=443',
    `cert=${certs.cert}`, `pkey=${certs.key}`, 'no-dtls', 'use-auth-secret', `static-auth-secret=${TURN_SECRET}`,
    `realm=turn.${DOMAIN}`, 'fingerprint', 'no-multicast-peers', 'denied-peer-ip=0.0.0.0-255.255.255.255',
    `allowed-peer-ip=${IP.livekit}`, 'no-cli', 'log-file=stdout', 'simple-log', `pidfile=${join(dir, 'turnserver.pid')}`,
  ].join('\n'))
  field.coturn = inServer('turnserver', 'turnserver', ['-c', turnConf])
  await listening(IP.turn, mutation === 'no-tls' ? 3478 : 443)

  const turnHost = mutation === 'wrong-turn' ? `relay.${DOMAIN}` : `turn.${DOMAIN}`
  field.livekit = inServer('livekit', process.env.LIVEKIT_SERVER_BIN, ['--config', livekitConfig(dir, dev.server, { turnHost })])
  await listening(IP.livekit, 443)

  // Estrade (API and worker, with its own throwaway PostgreSQL and Redis
  // on the server's loopback), on 443, handing out the relay too.
  const summaryFile = join(dir, 'summary.json')
  inServer('estrade', join(repo, 'target/debug/estrade'), ['dev', '--listen', `${IP.app}:443`, '--summary', summaryFile], {
    ESTRADE_CLIENT_DIR: join(repo, 'client/dist'),
    ESTRADE_LOG: 'warn',
    ESTRADE_LOG_FORMAT: 'json',
    ESTRADE_PUBLIC_URL: `http://app.${DOMAIN}:443`,
    LIVEKIT_URL: `ws://lk.${DOMAIN}:443`,
    LIVEKIT_API_KEY: KEY,
    LIVEKIT_API_SECRET: SECRET,
    ESTRADE_TURN_SECRET: TURN_SECRET,
    ESTRADE_TURN_URLS: `turns:turn.${DOMAIN}:443?transport=tcp`,
  })
  await until(() => existsSync(summaryFile) && readFileSync(summaryFile, 'utf8').length > 0, {
    timeout: 90_000,
    what: 'estrade dev writing its summary',
  })
  const summary = JSON.parse(readFileSync(summaryFile, 'utf8'))
  const api = `http://${IP.app}:443`
  await until(async () => (await fetch(`${api}/readyz`)).ok, { timeout: 30_000, what: 'estrade ready' })
  Object.assign(field, {
    summary,
    api,
    rooms: new RoomServiceClient(`http://${IP.livekit}:443`, KEY, SECRET),
    link: (session) => `http://app.${DOMAIN}:443/join/${session.join_code}`,
    async call(method, path, { token, body } = {}) {
      const response = await fetch(`${api}${path}`, {
        method,
        headers: {
          ...(token ? { authorization: `Bearer ${token}` } : {}),
          ...(body ? { 'content-type': 'application/json' } : {}),
        },
        body: body ? JSON.stringify(body) : undefined,
      })
      const text = await response.text()
      if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${text}`)
      return text ? JSON.parse(text) : null
    },
    async liveSession(title) {
      const token = summary.teacher_key
      const session = await field.call('POST', '/v1/sessions', { token, body: { title } })
      await field.call('POST', `/v1/sessions/${session.id}/start`, { token })
      return session
    },
    /** The campus Chromium: a launcher that runs it in the campus namespace, trusting the test CA. */
    browser() {
      const home = join(dir, 'home')
      mkdirSync(join(home, '.pki/nssdb'), { recursive: true })
      const db = `sql:${join(home, '.pki/nssdb')}`
      sh('certutil', ['-d', db, '-N', '--empty-password'])
      sh('certutil', ['-d', db, '-A', '-t', 'C,,', '-n', 'estrade-field-ca', '-i', certs.ca])
      const launcher = join(dir, 'chromium-in-campus')
      writeFileSync(launcher, `#!/bin/sh\nexec ip netns exec ${ns.campus} env HOME=${home} /usr/bin/chromium "$@"\n`)
      chmodSync(launcher, 0o755)
      return {
        executablePath: launcher,
        env: { ...process.env, HOME: home },
        // getUserMedia needs a secure origin: in production Traefik serves
        // app.<domain> over HTTPS; here the page is plain HTTP on 443.
        args: [`--unsafely-treat-insecure-origin-as-secure=http://app.${DOMAIN}:443`],
      }
    },
    /** Packets from the campus that reached the server: all, and TCP to 443. */
    arrivals() {
      const rules = JSON.parse(sh('ip', ['netns', 'exec', ns.server, 'nft', '-j', 'list', 'table', 'inet', 'watch']))
      const counted = {}
      for (const item of rules.nftables) {
        const rule = item.rule
        if (!rule?.comment) continue
        const counter = rule.expr.find((e) => e.counter)?.counter
        counted[rule.comment] = counter?.packets ?? 0
      }
      return { all: counted.all, to443: counted.to443 }
    },
    /** Drops every packet leaving or reaching the campus but on loopback, until the returned function is called. */
    cut() {
      nft(ns.campus, `table inet outage {
  chain output { type filter hook output priority -10; policy accept; oif != "lo" drop; }
  chain input { type filter hook input priority -10; policy accept; iif != "lo" drop; }
}`)
      return () => sh('ip', ['netns', 'exec', ns.campus, 'nft', 'delete', 'table', 'inet', 'outage'])
    },
    /** Closes 443 to the relay's address too, for new connections, until the returned function is called. */
    closeRelay() {
      nft(ns.campus, `table inet norelay {
  chain output { type filter hook output priority -10; policy accept; ip daddr ${IP.turn} drop; }
}`)
      return () => sh('ip', ['netns', 'exec', ns.campus, 'nft', 'delete', 'table', 'inet', 'norelay'])
    },
    /** Lifts the campus firewall (the same join on an open network), until the returned function is called. */
    openCampus() {
      sh('ip', ['netns', 'exec', ns.campus, 'nft', 'delete', 'table', 'inet', 'campus'])
      return () =>
        nft(ns.campus, CAMPUS_FIREWALL)
    },
    logs(name) {
      try {
        return readFileSync(join(dir, `${name}.log`), 'utf8').slice(-4000)
      } catch {
        return ''
      }
    },
    async stop() {
      for (const child of children.reverse()) {
        if (child.exitCode === null) {
          child.kill('SIGINT')
          await Promise.race([new Promise((r) => child.once('exit', r)), new Promise((r) => setTimeout(r, 10_000))])
        }
      }
      // What `ip netns exec` started lives on in the namespace if its parent died first.
      for (const name of Object.values(ns)) {
        try {
          const pids = sh('ip', ['netns', 'pids', name]).split(/\s+/).filter(Boolean)
          for (const pid of pids) process.kill(Number(pid), 'SIGKILL')
        } catch {
          // Already gone.
        }
      }
      try {
        sh('ip', ['route', 'del', '10.214.0.0/24'])
      } catch {
        // Gone with the link.
      }
      try {
        sh('ip', ['link', 'del', dev.here])
      } catch {
        // Gone with the namespace.
      }
      for (const name of Object.values(ns)) {
        try {
          sh('ip', ['netns', 'del', name])
        } catch {
          // Never made.
        }
        rmSync(`/etc/netns/${name}`, { recursive: true, force: true })
      }
      rmSync(dir, { recursive: true, force: true })
    },
  })
  return field
}
