// The page: the language switch, then the page the address names, and
// the announcer's live regions.

import { useTranslation } from 'react-i18next'

import { AnnouncerProvider } from '../a11y/AnnouncerProvider'
import { Learner } from '../learner/Learner'
import { NetworkCheck } from '../learner/NetworkCheck'
import { LanguageSwitch } from './LanguageSwitch'
import { parseRoute } from './route'

export function App() {
  const { t } = useTranslation()
  const route = parseRoute(window.location.pathname)
  return (
    <AnnouncerProvider>
      <header className="topbar">
        <LanguageSwitch />
        <p className="brand">{t('app.name')}</p>
      </header>
      <main className="page">
        {route.page === 'join' && <Learner code={route.code} />}
        {route.page === 'check' && <NetworkCheck />}
        {route.page === 'not_found' && (
          <>
            <h1>{t('not_found.title')}</h1>
            <p>
              <a href="/">{t('not_found.home')}</a>
            </p>
          </>
        )}
      </main>
    </AnnouncerProvider>
  )
}
