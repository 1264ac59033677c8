// /check: will the class work on this network? A relay-only check
// (connectivity.ts) with the servers of GET /v1/connectivity, said
// in plain words, with the detail IT staff need.

import { useState } from 'react'
import { useTranslation } from 'react-i18next'

import { useCues } from '../a11y/AnnouncerProvider'
import { ApiError, api } from '../api/client'
import type { MessageKey } from '../i18n'
import { relayCheck, type CheckOutcome } from './connectivity'
import { loadSeat } from './storage'

type Check =
  | { kind: 'idle' }
  | { kind: 'running' }
  | CheckOutcome
  /** The server wants a participant (or staff) credential for the check. */
  | { kind: 'needs_class' }
  | { kind: 'failed'; key: MessageKey }

function resultOf(check: Check): MessageKey | null {
  switch (check.kind) {
    case 'idle':
    case 'running':
      return null
    case 'works':
      return 'check.works'
    case 'blocked':
      return 'check.blocked'
    case 'no_relay':
      return 'check.no_relay'
    case 'needs_class':
      return 'check.needs_class'
    case 'failed':
      return check.key
  }
}

export function NetworkCheck() {
  const { t } = useTranslation()
  const cue = useCues()
  const [check, setCheck] = useState<Check>({ kind: 'idle' })

  async function run() {
    if (check.kind === 'running') return
    setCheck({ kind: 'running' })
    cue([{ key: 'check.running', politeness: 'polite', topic: 'check' }])
    let outcome: Check
    try {
      outcome = await relayCheck(await api.connectivity(loadSeat()?.participant_token ?? null))
    } catch (error) {
      const failure = error instanceof ApiError ? error : new ApiError(0, 'network')
      outcome = failure.status === 401 ? { kind: 'needs_class' } : { kind: 'failed', key: failure.messageKey() }
    }
    setCheck(outcome)
    const key = resultOf(outcome)
    if (key) cue([{ key, politeness: outcome.kind === 'works' ? 'polite' : 'assertive', topic: 'check' }])
  }

  const result = resultOf(check)
  return (
    <>
      <h1>{t('check.title')}</h1>
      <p>{t('check.intro')}</p>
      <button type="button" className="primary" aria-disabled={check.kind === 'running' || undefined} onClick={run}>
        {check.kind === 'idle' ? t('check.start') : t('check.again')}
      </button>
      {check.kind === 'running' && <p>{t('check.running')}</p>}
      {result && <p className={check.kind === 'works' ? 'result-ok' : 'warning'}>{t(result)}</p>}
      {check.kind === 'works' && check.protocol && (
        <p className="hint">{t('check.detail', { protocol: check.protocol })}</p>
      )}
      <p>
        <a href="/">{t('check.back')}</a>
      </p>
    </>
  )
}
