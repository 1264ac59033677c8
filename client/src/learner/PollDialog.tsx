// A poll, asked: a native modal <dialog> named by its title and described
// by the teacher's question, the choices as a radio group (arrow keys move
// between them, the focus starts on the current choice or the first), one
// button to send and one to answer later. Escape is "later" too. The focus
// goes back where it was when the dialog closes.

import { useEffect, useId, useRef, useState, type FormEvent } from 'react'
import { useTranslation } from 'react-i18next'

import type { MessageKey } from '../i18n'
import type { Poll } from '../live/polls'

interface Props {
  poll: Poll | null
  /** Sends the choice; resolves once accepted. */
  onAnswer: (choice: number) => Promise<void>
  /** Closed without an answer (later, Escape). */
  onLater: () => void
  error: MessageKey | null
}

export function PollDialog({ poll, onAnswer, onLater, error }: Props) {
  const { t } = useTranslation()
  const id = useId()
  const dialog = useRef<HTMLDialogElement>(null)
  const first = useRef<HTMLInputElement>(null)
  const opener = useRef<HTMLElement | null>(null)
  const [choice, setChoice] = useState<number | null>(null)
  const [sending, setSending] = useState(false)
  const answered = useRef(false)

  useEffect(() => {
    const d = dialog.current
    if (!d) return
    if (poll && !d.open) {
      opener.current = document.activeElement instanceof HTMLElement ? document.activeElement : null
      answered.current = false
      setChoice(poll.my_choice ?? null)
      d.showModal()
      const checked = d.querySelector<HTMLInputElement>('input[type=radio]:checked')
      ;(checked ?? first.current)?.focus()
    } else if (!poll && d.open) {
      d.close()
    }
  }, [poll])

  function closed() {
    if (!answered.current) onLater()
    const back = opener.current
    opener.current = null
    if (back?.isConnected) back.focus()
  }

  async function send(event: FormEvent) {
    event.preventDefault()
    if (choice === null || sending) return
    setSending(true)
    try {
      await onAnswer(choice)
      answered.current = true
      dialog.current?.close()
    } catch {
      // The error is shown and said by the caller.
    } finally {
      setSending(false)
    }
  }

  return (
    <dialog ref={dialog} className="dialog poll-dialog" aria-labelledby={`${id}-title`} aria-describedby={`${id}-question`} onClose={closed}>
      {poll && (
        <form onSubmit={(e) => void send(e)}>
          <h2 id={`${id}-title`}>{t('poll.dialog_title')}</h2>
          <fieldset aria-describedby={error ? `${id}-error` : undefined}>
            <legend id={`${id}-question`}>{poll.question}</legend>
            {poll.choices.map((text, i) => (
              <label key={i} className="poll-choice">
                <input
                  ref={i === 0 ? first : undefined}
                  type="radio"
                  name={`${id}-choice`}
                  value={i}
                  checked={choice === i}
                  onChange={() => setChoice(i)}
                />
                {text}
              </label>
            ))}
          </fieldset>
          {error && (
            <p id={`${id}-error`} className="field-error">
              {t(error)}
            </p>
          )}
          {choice === null && <p className="hint">{t('poll.choose_first')}</p>}
          <div className="actions">
            <button type="button" onClick={() => dialog.current?.close()}>
              {t('poll.later')}
            </button>
            <button type="submit" className="primary" aria-disabled={choice === null || sending}>
              {t('poll.send')}
            </button>
          </div>
        </form>
      )}
    </dialog>
  )
}
