// Every page's frame: the header (the language switch first in the tab
// order, the name, and the page's own header controls) and the main region.

import type { ReactNode } from 'react'
import { useTranslation } from 'react-i18next'

import { LanguageSwitch } from './LanguageSwitch'

interface Props {
  /** Controls for the header's end (the console's account and sign-out). */
  actions?: ReactNode
  children: ReactNode
}

export function Layout({ actions, children }: Props) {
  const { t } = useTranslation()
  return (
    <>
      <header className="topbar">
        <LanguageSwitch />
        <p className="brand">{t('app.name')}</p>
        {actions && <div className="topbar-actions">{actions}</div>}
      </header>
      <main className="page">{children}</main>
    </>
  )
}
