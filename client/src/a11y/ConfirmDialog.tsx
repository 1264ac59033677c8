// A question before something that cannot be undone (ending a class,
// removing a learner): a native modal <dialog> (showModal), the focus on
// the safe button (Cancel), Escape cancels, and the focus returns to the
// control that opened it (or, when that control is gone, to `fallback`).

import { useEffect, useId, useRef, type RefObject } from 'react'
import { useTranslation } from 'react-i18next'

interface Props {
  open: boolean
  title: string
  text: string
  confirmLabel: string
  onConfirm: () => void
  /** Closed, whatever closed it (confirm, cancel, Escape). */
  onClose: () => void
  fallback?: RefObject<HTMLElement | null>
}

export function ConfirmDialog({ open, title, text, confirmLabel, onConfirm, onClose, fallback }: Props) {
  const { t } = useTranslation()
  const id = useId()
  const dialog = useRef<HTMLDialogElement>(null)
  const cancel = useRef<HTMLButtonElement>(null)
  const opener = useRef<HTMLElement | null>(null)

  useEffect(() => {
    const d = dialog.current
    if (!d) return
    if (open && !d.open) {
      opener.current = document.activeElement instanceof HTMLElement ? document.activeElement : null
      d.showModal()
      cancel.current?.focus()
    } else if (!open && d.open) {
      d.close()
    }
  }, [open])

  function closed() {
    onClose()
    const back = opener.current
    opener.current = null
    if (back?.isConnected) back.focus()
    else fallback?.current?.focus()
  }

  return (
    <dialog ref={dialog} className="dialog" aria-labelledby={`${id}-title`} aria-describedby={`${id}-text`} onClose={closed}>
      <h2 id={`${id}-title`}>{title}</h2>
      <p id={`${id}-text`}>{text}</p>
      <div className="actions">
        <button ref={cancel} type="button" onClick={() => dialog.current?.close()}>
          {t('dialog.cancel')}
        </button>
        <button
          type="button"
          className="danger"
          onClick={() => {
            onConfirm()
            dialog.current?.close()
          }}
        >
          {confirmLabel}
        </button>
      </div>
    </dialog>
  )
}
