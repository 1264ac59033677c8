import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'

import { SPACING_MS, createAnnouncer, type Announcement, type Cue } from './announcer'

const cue = (key: string, politeness: Cue['politeness'] = 'polite', topic = key): Cue =>
  ({ key, politeness, topic }) as Cue

describe('the announcer', () => {
  let heard: (Announcement & { at: number })[]
  let announcer: ReturnType<typeof createAnnouncer>
  let language: string

  beforeEach(() => {
    vi.useFakeTimers()
    heard = []
    language = 'en'
    announcer = createAnnouncer({
      emit: (a) => heard.push({ ...a, at: Date.now() }),
      translate: (key, values) => `${language}:${key}${values ? JSON.stringify(values) : ''}`,
      now: () => Date.now(),
    })
  })

  afterEach(() => {
    announcer.dispose()
    vi.useRealTimers()
  })

  it('says a message at once when nothing was said recently, in a task of its own', () => {
    announcer.say(cue('session.live'))
    expect(heard).toEqual([])
    vi.advanceTimersByTime(0)
    expect(heard.map((a) => a.text)).toEqual(['en:session.live'])
    expect(heard[0]?.politeness).toBe('polite')
  })

  it('spaces messages at least 300 ms apart, with room for a late render', () => {
    const start = Date.now()
    announcer.say(cue('a'))
    announcer.say(cue('b'))
    announcer.say(cue('c'))
    vi.advanceTimersByTime(0)
    expect(heard).toHaveLength(1)
    vi.advanceTimersByTime(SPACING_MS - 1)
    expect(heard).toHaveLength(1)
    vi.advanceTimersByTime(1)
    expect(heard).toHaveLength(2)
    vi.advanceTimersByTime(SPACING_MS)
    expect(heard.map((a) => [a.text, a.at - start])).toEqual([
      ['en:a', 0],
      ['en:b', SPACING_MS],
      ['en:c', 2 * SPACING_MS],
    ])
  })

  it('waits out the spacing after a message said a moment ago', () => {
    announcer.say(cue('a'))
    vi.advanceTimersByTime(100)
    announcer.say(cue('b'))
    expect(heard).toHaveLength(1)
    vi.advanceTimersByTime(SPACING_MS - 100)
    expect(heard.map((a) => a.text)).toEqual(['en:a', 'en:b'])
  })

  it('puts an assertive message before polite ones still waiting, in order among assertive ones', () => {
    announcer.say(cue('first'))
    vi.advanceTimersByTime(0)
    announcer.say(cue('polite-1'))
    announcer.say(cue('polite-2'))
    announcer.say(cue('alert-1', 'assertive'))
    announcer.say(cue('alert-2', 'assertive'))
    vi.advanceTimersByTime(10 * SPACING_MS)
    expect(heard.map((a) => [a.text, a.politeness])).toEqual([
      ['en:first', 'polite'],
      ['en:alert-1', 'assertive'],
      ['en:alert-2', 'assertive'],
      ['en:polite-1', 'polite'],
      ['en:polite-2', 'polite'],
    ])
  })

  it('replaces a waiting message of the same topic with the newer one', () => {
    announcer.say(cue('other'))
    vi.advanceTimersByTime(0)
    announcer.say(cue('position 3', 'polite', 'floor'))
    announcer.say(cue('position 2', 'polite', 'floor'))
    announcer.say(cue('granted', 'assertive', 'floor'))
    vi.advanceTimersByTime(10 * SPACING_MS)
    expect(heard.map((a) => a.text)).toEqual(['en:other', 'en:granted'])
  })

  it('translates when it speaks, in the language of that moment', () => {
    announcer.say(cue('a'))
    vi.advanceTimersByTime(0)
    announcer.say(cue('b'))
    language = 'fr'
    vi.advanceTimersByTime(SPACING_MS)
    expect(heard.map((a) => a.text)).toEqual(['en:a', 'fr:b'])
  })

  it('says a repeated sentence again', () => {
    announcer.say(cue('same'))
    vi.advanceTimersByTime(SPACING_MS)
    announcer.say(cue('same'))
    vi.advanceTimersByTime(SPACING_MS)
    expect(heard.map((a) => a.text)).toEqual(['en:same', 'en:same'])
  })

  it('passes the values to the translation', () => {
    announcer.say({ key: 'floor.moved', values: { count: 2, ordinal: true }, politeness: 'polite', topic: 'floor' })
    vi.advanceTimersByTime(0)
    expect(heard[0]?.text).toBe('en:floor.moved{"count":2,"ordinal":true}')
  })

  it('drops what waits when disposed', () => {
    announcer.say(cue('a'))
    announcer.say(cue('b'))
    vi.advanceTimersByTime(0)
    announcer.dispose()
    vi.advanceTimersByTime(10 * SPACING_MS)
    expect(heard).toHaveLength(1)
  })
})
