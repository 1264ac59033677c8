// One run after the last of a burst of calls (presence events, floor
// changes). Pure apart from the timers, which tests hand in.

export interface Timers {
  set: (run: () => void, ms: number) => unknown
  clear: (timer: unknown) => void
}

const TIMERS: Timers = {
  set: (run, ms) => setTimeout(run, ms),
  clear: (timer) => clearTimeout(timer as ReturnType<typeof setTimeout>),
}

/** Runs `run` once, `ms` after the last of a burst of calls (presence events come in bursts). */
export function debounce(run: () => void, ms: number, timers: Timers = TIMERS) {
  let timer: unknown = null
  return {
    call() {
      if (timer !== null) timers.clear(timer)
      timer = timers.set(() => {
        timer = null
        run()
      }, ms)
    },
    cancel() {
      if (timer !== null) timers.clear(timer)
      timer = null
    },
  }
}
