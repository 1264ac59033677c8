// The keyboard shortcuts: listed in a dialog, with the switch to turn them
// off. Escape or the close button closes it and the focus returns to the
// button that opened it.

import { useRef } from 'react'
import { useTranslation } from 'react-i18next'

import { SHORTCUTS } from './shortcuts'

interface Props {
  enabled: boolean
  onEnabledChange: (enabled: boolean) => void
}

export function ShortcutsDialog({ enabled, onEnabledChange }: Props) {
  const { t } = useTranslation()
  const dialog = useRef<HTMLDialogElement>(null)
  const opener = useRef<HTMLButtonElement>(null)
  return (
    <>
      <button ref={opener} type="button" aria-haspopup="dialog" onClick={() => dialog.current?.showModal()}>
        {t('shortcuts.open')}
      </button>
      <dialog ref={dialog} className="dialog" aria-labelledby="shortcuts-title" onClose={() => opener.current?.focus()}>
        <h2 id="shortcuts-title">{t('shortcuts.title')}</h2>
        <p>{t('shortcuts.intro')}</p>
        <dl className="shortcut-list">
          {SHORTCUTS.map((s) => (
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
            id="shortcuts-enabled"
            type="checkbox"
            checked={enabled}
            onChange={(e) => onEnabledChange(e.target.checked)}
          />
          <label htmlFor="shortcuts-enabled">{t('shortcuts.enabled')}</label>
        </div>
        <button type="button" onClick={() => dialog.current?.close()}>
          {t('shortcuts.close')}
        </button>
      </dialog>
    </>
  )
}
