// The browser tests' world: a real Estrade (`estrade dev`: API, worker,
// and the real LiveKit v1.13.5 on loopback) serving the built client, a
// teacher who is LiveKit's own Python SDK publishing a synthetic camera and
// microphone (tests/sdk/bot.py), and Debian's Chromium driven by
// playwright-core. `scripts/test` runs these tests as root inside a network
// namespace with only loopback (scripts/lib/loopback-netns), with a
// throwaway PostgreSQL and Redis there (DATABASE_URL, REDIS_URL).
//
// Nothing here waits with a bare sleep: every wait polls a condition with a
// deadline.

import { spawn, execFileSync } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, readFileSync, existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve, dirname } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'

import { after, afterEach, before } from 'node:test'

import { chromium } from 'playwright-core'
import { RoomServiceClient } from 'livekit-server-sdk'

const here = dirname(fileURLToPath(import.meta.url))
export const repo = resolve(here, '../..')
export const catalogs = {
  en: JSON.parse(readFileSync(join(repo, 'client/src/i18n/en.json'), 'utf8')),
  fr: JSON.parse(readFileSync(join(repo, 'client/src/i18n/fr.json'), 'utf8')),
}

/** Polls `condition` (sync or async) until it returns a truthy value. */
export async function until(condition, { timeout = 20_000, every = 100, what = 'the condition' } = {}) {
  const deadline = Date.now() + timeout
  let last
  for (;;) {
    try {
      last = await condition()
      if (last) return last
    } catch (error) {
      last = error
    }
    if (Date.now() > deadline) throw new Error(`${what} did not hold within ${timeout} ms (last: ${last})`)
    await new Promise((r) => setTimeout(r, every))
  }
}

/** A free TCP port on loopback. */
async function freePort() {
  // Below Linux's ephemeral range (32768–60999): `estrade dev` binds this
  // port only after starting PostgreSQL, Redis and LiveKit and connecting
  // to them, and one of those connections could take an ephemeral port as
  // its own local port meanwhile.
  const { createServer } = await import('node:net')
  for (;;) {
    const port = 20_000 + Math.floor(Math.random() * 12_000)
    const server = createServer()
    const bound = await new Promise((resolve) => {
      server.once('error', () => resolve(false))
      server.listen(port, '127.0.0.1', () => resolve(true))
    })
    if (bound) {
      await new Promise((resolve) => server.close(resolve))
      return port
    }
  }
}

/**
 * Starts `estrade dev` (built by scripts/test: target/debug/estrade) with
 * the built client, and returns what it wrote to its --summary file plus
 * a few helpers. One per test file.
 */
export async function startEstrade() {
  const dir = mkdtempSync(join(tmpdir(), 'estrade-e2e-'))
  const summaryFile = join(dir, 'summary.json')
  const port = await freePort()
  const binary = join(repo, 'target/debug/estrade')
  if (!existsSync(binary)) throw new Error(`${binary} is missing: scripts/test builds it (cargo build -p estrade)`)
  const child = spawn(binary, ['dev', '--listen', `127.0.0.1:${port}`, '--summary', summaryFile], {
    cwd: repo,
    env: {
      ...process.env,
      ESTRADE_CLIENT_DIR: join(repo, 'client/dist'),
      ESTRADE_LOG_FORMAT: 'json',
      ESTRADE_LOG: process.env.ESTRADE_LOG ?? 'warn',
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  })
  const exited = once(child, 'exit')
  await until(() => existsSync(summaryFile) && readFileSync(summaryFile, 'utf8').length > 0, {
    timeout: 60_000,
    what: 'estrade dev writing its summary',
  })
  const summary = JSON.parse(readFileSync(summaryFile, 'utf8'))
  if (!summary.livekit.startsWith('v1.13.5')) {
    throw new Error(`estrade dev runs ${summary.livekit}, not the real LiveKit: set LIVEKIT_SERVER_BIN (scripts/test does)`)
  }
  await until(async () => (await fetch(`${summary.api}/readyz`)).ok, { what: 'estrade dev ready' })
  const rooms = new RoomServiceClient(summary.livekit_url, summary.livekit_api_key, summary.livekit_api_secret)

  async function call(method, path, { token, body } = {}) {
    const response = await fetch(`${summary.api}${path}`, {
      method,
      headers: {
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        ...(body ? { 'content-type': 'application/json' } : {}),
      },
      body: body ? JSON.stringify(body) : undefined,
    })
    const text = await response.text()
    const json = text ? JSON.parse(text) : null
    if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${text}`)
    return json
  }

  return {
    ...summary,
    call,
    rooms,
    /** A new live session of the dev teacher. */
    async liveSession(body = {}) {
      const session = await call('POST', '/v1/sessions', {
        token: summary.teacher_key,
        body: { title: 'Pain au levain', floor: { mode: 'moderated', max_speakers: 1 }, ...body },
      })
      await call('POST', `/v1/sessions/${session.id}/start`, { token: summary.teacher_key })
      return session
    },
    /** The join link of `session` on this server. */
    link(session) {
      return `${summary.api}/join/${session.join_code}`
    },
    /** The participants Estrade has for `session` (teacher's view). */
    async participants(session) {
      return (await call('GET', `/v1/sessions/${session.id}/participants`, { token: summary.teacher_key }))
    },
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGINT')
        await exited
      }
    },
  }
}

/**
 * A LiveKit client of LiveKit's own Python SDK (tests/sdk/bot.py), driven
 * line by line; every event it printed is kept.
 */
const bots = new Set()

/** Ends every bot still running (a failed test leaves some). */
export function stopBots() {
  for (const bot of bots) bot.stop()
}

export class Bot {
  /** `prefix`: a command the bot runs under, such as `ip netns exec NAME`. */
  constructor(name, { prefix = [] } = {}) {
    bots.add(this)
    this.name = name
    this.events = []
    this.waiters = new Set()
    const [command, ...args] = [...prefix, 'python3', join(repo, 'tests/sdk/bot.py')]
    this.child = spawn(command, args, {
      env: { ...process.env, PYTHONPATH: join(repo, 'tests/sdk/.deps/python') },
      stdio: ['pipe', 'pipe', 'inherit'],
    })
    createInterface({ input: this.child.stdout }).on('line', (line) => {
      const event = JSON.parse(line)
      this.events.push(event)
      for (const waiter of this.waiters) waiter()
    })
  }

  send(command) {
    this.child.stdin.write(`${JSON.stringify(command)}\n`)
  }

  /** The first event (seen or to come) for which `matches` holds. */
  wait(matches, { timeout = 30_000, from = 0 } = {}) {
    return new Promise((resolvePromise, reject) => {
      const check = () => {
        const found = this.events.slice(from).find(matches)
        if (found) {
          this.waiters.delete(check)
          clearTimeout(timer)
          resolvePromise(found)
        }
      }
      const timer = setTimeout(() => {
        this.waiters.delete(check)
        reject(new Error(`${this.name}: not seen within ${timeout} ms; saw ${JSON.stringify(this.events)}`))
      }, timeout)
      this.waiters.add(check)
      check()
    })
  }

  async connect(url, token) {
    const from = this.events.length
    this.send({ do: 'connect', url, token })
    const event = await this.wait((e) => e.event === 'connected' || e.event === 'failed', { from })
    if (event.event !== 'connected') throw new Error(`${this.name} could not connect: ${JSON.stringify(event)}`)
    return event
  }

  async publish(kind) {
    const from = this.events.length
    this.send({ do: 'publish', kind, name: kind.toUpperCase() })
    const event = await this.wait((e) => (e.event === 'published' || e.event === 'failed') && e.kind === kind, { from })
    if (event.event !== 'published') throw new Error(`${this.name} could not publish ${kind}: ${JSON.stringify(event)}`)
  }

  stop() {
    bots.delete(this)
    this.child.kill()
  }
}

/** The teacher of `session`, in the room, publishing camera and microphone. */
export async function teacherBot(estrade, session, { prefix = [] } = {}) {
  const publish = await estrade.call('POST', `/v1/sessions/${session.id}/publish-token`, {
    token: estrade.teacher_key,
  })
  const bot = new Bot('teacher', { prefix })
  const connected = await bot.connect(publish.livekit_url, publish.token)
  await bot.publish('camera')
  await bot.publish('microphone')
  bot.identity = connected.identity
  return bot
}

/** A WAV of a voice saying `text` (espeak-ng), Chromium's fake microphone. */
export function speechWav(text) {
  const dir = mkdtempSync(join(tmpdir(), 'estrade-wav-'))
  const file = join(dir, 'speech.wav')
  execFileSync('espeak-ng', ['-v', 'en', '-w', file, text])
  return file
}

/**
 * Debian's Chromium (never a downloaded browser), headless, with a fake
 * camera and a microphone that plays `wav`; WebRTC may use loopback and
 * nothing reaches for the network on its own.
 */
export async function launchBrowser({
  wav = speechWav('Hello, I have a question about the dough.'),
  executablePath = '/usr/bin/chromium',
  env = undefined,
  args = [],
} = {}) {
  return chromium.launch({
    executablePath,
    env,
    headless: true,
    args: [
      ...args,
      '--no-sandbox',
      '--use-fake-ui-for-media-stream',
      '--use-fake-device-for-media-stream',
      `--use-file-for-fake-audio-capture=${wav}`,
      '--allow-loopback-in-peer-connection',
      '--disable-features=WebRtcHideLocalIpsWithMdns',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      '--disable-quic',
      '--disable-gpu',
    ],
  })
}

/**
 * A page in `lang` at `width` px, with every call to HTMLMediaElement's
 * play() recorded (window.__plays: the source played), so a test can
 * tell a cue was played, and every message of the live regions
 * (window.__said), so a test can tell what a screen reader was given,
 * and every RTCPeerConnection it makes (window.__pcs).
 */
export async function openPage(browser, { lang = 'en', width = 1280, autoplayBlocked = false } = {}) {
  const context = await browser.newContext({
    locale: lang === 'fr' ? 'fr-FR' : 'en-US',
    viewport: { width, height: 900 },
  })
  if (autoplayBlocked) {
    // Headless Chromium lets every page play sound; a browser on a site
    // the learner never used refuses until they act. This refuses play()
    // as browsers do (NotAllowedError) until the first key press.
    await context.addInitScript(() => {
      let acted = false
      addEventListener('keydown', () => (acted = true), { capture: true })
      const play = HTMLMediaElement.prototype.play
      HTMLMediaElement.prototype.play = function playOnceActed(...args) {
        if (!acted) return Promise.reject(new DOMException('play() needs a user action first', 'NotAllowedError'))
        return play.apply(this, args)
      }
    })
  }
  await context.addInitScript(() => {
    // What the live regions said, in order: {role, text, at}.
    window.__said = []
    new MutationObserver((records) => {
      for (const record of records) {
        for (const node of record.addedNodes) {
          const region = node.parentElement?.closest('[role="status"], [role="alert"]')
          if (region && node.textContent) {
            window.__said.push({ role: region.getAttribute('role'), text: node.textContent, at: performance.now() })
          }
        }
      }
    }).observe(document, { childList: true, subtree: true })
    // Every peer connection the page makes (window.__pcs), for its stats.
    window.__pcs = []
    const Native = window.RTCPeerConnection
    window.RTCPeerConnection = class extends Native {
      constructor(...args) {
        super(...args)
        window.__pcs.push(this)
      }
    }
    window.__plays = []
    const play = HTMLMediaElement.prototype.play
    HTMLMediaElement.prototype.play = function recordedPlay(...args) {
      window.__plays.push(this.currentSrc || this.src || (this.srcObject ? 'stream' : ''))
      return play.apply(this, args)
    }
  })
  const page = await context.newPage()
  page.on('pageerror', (error) => console.error(`page error: ${error.message}`))
  page.on('console', (message) => {
    if (message.type() === 'error') console.error(`console: ${message.text()}`)
  })
  return page
}

/** Presses Tab until the control of `role` and `name` has the focus. */
export async function tabTo(page, role, name, { max = 40 } = {}) {
  const target = page.getByRole(role, { name, exact: true })
  for (let i = 0; i < max; i++) {
    if (await target.evaluate((el) => el === document.activeElement).catch(() => false)) return target
    await page.keyboard.press('Tab')
  }
  throw new Error(`Tab never reached the ${role} “${name}”`)
}

/** Waits until a live region of `role` said `text`; returns that message. */
export async function said(page, role, text, { timeout = 20_000 } = {}) {
  try {
    return await until(
      () => page.evaluate(({ role, text }) => window.__said.find((m) => m.role === role && m.text === text), { role, text }),
      { timeout, what: `the ${role} region saying “${text}”` },
    )
  } catch (error) {
    const all = await saidSoFar(page).catch(() => [])
    throw new Error(`${error.message}; said: ${JSON.stringify(all.map((m) => `${m.role}: ${m.text}`))}`)
  }
}

/** Everything the live regions said so far. */
export function saidSoFar(page) {
  return page.evaluate(() => window.__said)
}

/** A catalog string with its {{placeholders}} filled in. */
export function fill(text, values) {
  return text.replace(/\{\{(\w+)\}\}/g, (_, name) => String(values[name]))
}

/** `base_ordinal_<category>` of `catalog` for `count`, filled in. */
export function ordinal(lang, catalogSection, base, count) {
  const category = new Intl.PluralRules(lang, { type: 'ordinal' }).select(count)
  return fill(catalogSection[`${base}_ordinal_${category}`], { count })
}

/**
 * Opens `link` and joins as `name` by keyboard: the focus is on the name
 * field (the link brought the code), type, Enter. Returns once the
 * teacher's video plays with frames advancing.
 */
export async function joinByKeyboard(page, link, name, lang) {
  const t = catalogs[lang]
  await page.goto(link)
  const field = page.getByLabel(t.join.name, { exact: true })
  await until(() => field.evaluate((el) => el === document.activeElement), { what: 'the name field focused' })
  await page.keyboard.type(name)
  await page.keyboard.press('Enter')
  await teacherVideoPlays(page, lang)
}

/** The teacher's camera plays in `page`, its frames advancing. */
export async function teacherVideoPlays(page, lang) {
  // The dev teacher's account is called "Dev teacher".
  const video = page.getByLabel(fill(catalogs[lang].stage.video_named, { name: 'Dev teacher' }), { exact: true })
  await until(() => video.evaluate((v) => v.videoWidth > 0), { what: 'the teacher video playing' })
  const frames = () => video.evaluate((v) => v.getVideoPlaybackQuality().totalVideoFrames)
  const first = await frames()
  await until(async () => (await frames()) > first + 5, { what: 'video frames advancing' })
}

/** How many live remote audio tracks the page receives. */
export function liveAudioTracks(page) {
  return page.evaluate(
    () =>
      [...document.querySelectorAll('audio')].filter((a) =>
        a.srcObject?.getAudioTracks().some((t) => t.readyState === 'live'),
      ).length,
  )
}

/** The API requests the page makes from now on (their paths). */
export function recordApiRequests(page) {
  const paths = []
  page.on('request', (request) => {
    const url = new URL(request.url())
    if (url.pathname.startsWith('/v1/')) paths.push(url.pathname)
  })
  return paths
}

/**
 * Cuts this namespace off from LiveKit, as a network that drops out
 * would: every UDP packet (WebRTC media) and LiveKit's signalling port
 * are dropped (nftables; the tests run as root in their own namespace).
 * Returns a function that restores the network.
 */
export function cutLiveKit(estrade) {
  const port = new URL(estrade.livekit_url).port
  const nft = (...args) => execFileSync('nft', args)
  nft('add', 'table', 'inet', 'estrade_e2e')
  nft('add', 'chain', 'inet', 'estrade_e2e', 'out', '{ type filter hook output priority 0 ; }')
  nft('add', 'rule', 'inet', 'estrade_e2e', 'out', 'meta', 'l4proto', 'udp', 'drop')
  nft('add', 'rule', 'inet', 'estrade_e2e', 'out', 'tcp', 'dport', port, 'drop')
  nft('add', 'rule', 'inet', 'estrade_e2e', 'out', 'tcp', 'sport', port, 'drop')
  return () => nft('delete', 'table', 'inet', 'estrade_e2e')
}

/**
 * One test file's world: an Estrade and a browser started before its
 * tests and stopped after them. What a failed test left running (its
 * bots, its pages still in the class) ends with that test, so that it
 * never loads the machine under the tests after it. Its `estrade` and
 * `browser` are set once the tests run.
 */
export function classWorld() {
  const world = { estrade: null, browser: null }
  before(async () => {
    world.estrade = await startEstrade()
    world.browser = await launchBrowser()
  })
  afterEach(async () => {
    stopBots()
    for (const context of world.browser?.contexts() ?? []) await context.close()
  })
  after(async () => {
    await world.browser?.close()
    await world.estrade?.stop()
  })
  return world
}

/**
 * Signs in to the console with `key` by keyboard, waits for the list of
 * classes (`admin`: "All classes"), and opens the page of `session` (by
 * its address) until its section headed `section` shows.
 */
export async function consoleClass(page, estrade, { key, admin = false, session, section, lang }) {
  const t = catalogs[lang].console
  await page.goto(`${estrade.api}/console`)
  await tabToField(page, t.sign_in.key)
  await page.keyboard.type(key)
  await page.keyboard.press('Enter')
  const list = admin ? t.list.title_all : t.list.title_teacher
  await until(() => page.getByRole('heading', { name: list, exact: true }).isVisible(), { what: 'the list of classes' })
  await page.goto(`${estrade.api}/console/sessions/${session.id}`)
  await until(() => page.getByRole('heading', { name: section, exact: true }).isVisible(), {
    what: `the section “${section}”`,
  })
}

/** Presses Tab until the form field labelled `label` has the focus. */
export async function tabToField(page, label, { max = 40 } = {}) {
  const target = page.getByLabel(label, { exact: true })
  for (let i = 0; i < max; i++) {
    if (await target.evaluate((el) => el === document.activeElement).catch(() => false)) return target
    await page.keyboard.press('Tab')
  }
  throw new Error(`Tab never reached the field “${label}”`)
}

/**
 * The loudest sample (0–1) of the remote audio the page plays, over `ms`:
 * every <audio> with a live track is read through an AnalyserNode, so
 * silence reads near 0 and a voice well above.
 */
export function receivedAudioPeak(page, ms = 3_000) {
  return page.evaluate(async (ms) => {
    const context = new AudioContext()
    await context.resume()
    const analysers = [...document.querySelectorAll('audio')]
      .map((a) => a.srcObject)
      .filter((s) => s?.getAudioTracks().some((t) => t.readyState === 'live'))
      .map((stream) => {
        const analyser = context.createAnalyser()
        analyser.fftSize = 2048
        context.createMediaStreamSource(stream).connect(analyser)
        return analyser
      })
    const samples = new Float32Array(2048)
    let peak = 0
    const end = performance.now() + ms
    while (performance.now() < end) {
      for (const analyser of analysers) {
        analyser.getFloatTimeDomainData(samples)
        for (const v of samples) peak = Math.max(peak, Math.abs(v))
      }
      await new Promise((r) => setTimeout(r, 50))
    }
    await context.close()
    return peak
  }, ms)
}

/**
 * A page on another origin of the same site (127.0.0.1, another port):
 * `SameSite=Strict` lets the console cookie go with its requests, so only
 * the server's Origin check stands between it and a change. Serves `html`
 * at `/`; returns its URL and a stop function.
 */
export async function foreignSite(html) {
  const { createServer } = await import('node:http')
  const server = createServer((_, response) => {
    response.writeHead(200, { 'content-type': 'text/html' })
    response.end(html)
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  return { url: `http://127.0.0.1:${server.address().port}/`, stop: () => server.close() }
}
