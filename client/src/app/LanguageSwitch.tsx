// The language switch, first in the tab order on every page: one button
// naming the other language in that language.

import { useTranslation } from 'react-i18next'

import { switchLanguage, type Language } from '../i18n'

export function LanguageSwitch() {
  const { t, i18n } = useTranslation()
  const other: Language = i18n.language === 'fr' ? 'en' : 'fr'
  return (
    <button type="button" className="language-switch" lang={other} onClick={() => switchLanguage(other)}>
      {t('language.switch')}
    </button>
  )
}
