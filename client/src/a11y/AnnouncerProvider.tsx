// The page's one announcer (announcer.ts) and its two live regions,
// present from the first render so that screen readers watch them. Each
// message is a new paragraph in its region, so a repeated sentence is
// spoken again; it is written there when the announcer emits it, not at
// React's next render, so the spacing the announcer keeps is the spacing
// the page shows. React renders the regions and never their content.
// Cues with a tone play it at once.

import { createContext, useCallback, useContext, useEffect, useRef, useState, type ReactNode } from 'react'
import { useTranslation } from 'react-i18next'

import { createAnnouncer, type Announcement, type Cue } from './announcer'
import { playSound } from './sounds'

type CueSink = (cues: readonly Cue[]) => void

const CueContext = createContext<CueSink>(() => {})

export function useCues(): CueSink {
  return useContext(CueContext)
}

export function AnnouncerProvider({ children }: { children: ReactNode }) {
  const { t } = useTranslation()
  const translate = useRef(t)
  useEffect(() => {
    translate.current = t
  }, [t])
  const polite = useRef<HTMLDivElement>(null)
  const assertive = useRef<HTMLDivElement>(null)
  const [announcer] = useState(() =>
    createAnnouncer({
      emit: (a) => show(a.politeness === 'polite' ? polite.current : assertive.current, a),
      translate: (key, values) => translate.current(key, values),
    }),
  )
  useEffect(() => () => announcer.dispose(), [announcer])
  const sink = useCallback<CueSink>(
    (cues) => {
      for (const cue of cues) {
        if (cue.sound) playSound(cue.sound, cue.volume)
        announcer.say(cue)
      }
    },
    [announcer],
  )
  return (
    <CueContext.Provider value={sink}>
      {children}
      <div role="status" className="visually-hidden" ref={polite} />
      <div role="alert" className="visually-hidden" ref={assertive} />
    </CueContext.Provider>
  )
}

/** `announcement` as the one paragraph of `region`. */
function show(region: HTMLDivElement | null, announcement: Announcement) {
  if (!region) return
  const paragraph = document.createElement('p')
  paragraph.textContent = announcement.text
  region.replaceChildren(paragraph)
}
