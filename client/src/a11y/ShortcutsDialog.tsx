// A page's keyboard shortcuts, listed in a dialog with the switch to turn
// them off. Escape or the close button closes it and the focus returns to
// the button that opened it.

import { useRef } from 'react'
import { useTranslation } from 'react-i18next'

import type { MessageKey } from '../i18n'
import type { Shortcut } from './shortcuts'

interface Props<A extends string> {
  shortcuts: readonly Shortcut<A>[]
  /** Where they work, said under the title. */
  intro: MessageKey
  enabled: boolean
  onEnabledChange: (enabled: boolean) => void
  /** Prefix of the dialog's ids, unique on the page. */
  id?: string
}

export function ShortcutsDialog<A extends string>({ shortcuts, intro, enabled, onEnabledChange, id = 'shortcuts' }: Props<A>) {
  const { t } = useTranslation()
  const dialog = useRef<HTMLDialogElement>(null)
  const opener = useRef<HTMLButtonElement>(null)
  return (
    <>
      <button ref={opener} type="button" aria-haspopup="dialog" onClick={() => dialog.current?.showModal()}>
        {t('shortcuts.open')}
      </button>
      <dialog ref={dialog} className="dialog" aria-labelledby={`${id}-title`} onClose={() => opener.current?.focus()}>
        <h2 id={`${id}-title`}>{t('shortcuts.title')}</h2>
        <p>{t(intro)}</p>
        <dl className="shortcut-list">
          {shortcuts.map((s) => (
            <div key={s.action}>
              <dt>
                <kbd>{t('shortcuts.keys', { letter: s.letter })}</kbd>
              </dt>
              <dd>{t(s.label)}</dd>
            </div>
          ))}
        </dl>
        <div className="field field-check">
          <input
            id={`${id}-enabled`}
            type="checkbox"
            checked={enabled}
            onChange={(e) => onEnabledChange(e.target.checked)}
          />
          <label htmlFor={`${id}-enabled`}>{t('shortcuts.enabled')}</label>
        </div>
        <button type="button" onClick={() => dialog.current?.close()}>
          {t('shortcuts.close')}
        </button>
      </dialog>
    </>
  )
}
