import { describe, expect, it } from 'vitest'

import { debounce } from './debounce'

describe('a debounced call', () => {
  it('runs once, after the last of a burst', () => {
    const timers: { run: () => void; ms: number; cleared: boolean }[] = []
    let runs = 0
    const refresh = debounce(() => (runs += 1), 400, {
      set: (run, ms) => {
        const t = { run, ms, cleared: false }
        timers.push(t)
        return t
      },
      clear: (t) => {
        ;(t as { cleared: boolean }).cleared = true
      },
    })
    refresh.call()
    refresh.call()
    refresh.call()
    expect(timers.map((t) => t.cleared)).toEqual([true, true, false])
    timers[2]?.run()
    expect(runs).toBe(1)
    refresh.call()
    refresh.cancel()
    expect(timers[3]?.cleared).toBe(true)
  })
})
