// The page: the header and the page the address names (the learner's, or
// the teacher's console, loaded only when asked for), and the announcer's
// live regions.

import { Suspense, lazy } from 'react'
import { useTranslation } from 'react-i18next'

import { AnnouncerProvider } from '../a11y/AnnouncerProvider'
import { Learner } from '../learner/Learner'
import { NetworkCheck } from '../learner/NetworkCheck'
import { Layout } from './Layout'
import { useRoute } from './navigate'
import { isConsole } from './route'

// Learners never download the console.
const Console = lazy(() => import('../console/Console').then((m) => ({ default: m.Console })))

export function App() {
  const { t } = useTranslation()
  const route = useRoute()
  return (
    <AnnouncerProvider>
      {isConsole(route) ? (
        <Suspense
          fallback={
            <Layout>
              <p>{t('console.loading')}</p>
            </Layout>
          }
        >
          <Console route={route} />
        </Suspense>
      ) : (
        <Layout>
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
        </Layout>
      )}
    </AnnouncerProvider>
  )
}
