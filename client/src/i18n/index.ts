// The two catalogs, the choice of language (the learner's own choice, else
// the browser's, else French) and the document's `lang` and title kept in
// step with it.

import i18next, { type ParseKeys } from 'i18next'
import { initReactI18next } from 'react-i18next'

import { loadLanguage, saveLanguage } from '../app/storage'
import en from './en.json'
import fr from './fr.json'

export const LANGUAGES = ['fr', 'en'] as const
export type Language = (typeof LANGUAGES)[number]

/** A key of the catalogs (plural forms under their base key). */
export type MessageKey = ParseKeys

/** The learner's stored choice, else the first browser language we have. */
export function pickLanguage(stored: string | null, browser: readonly string[]): Language {
  const ours = (tag: string) => LANGUAGES.find((l) => tag.toLowerCase().split('-')[0] === l)
  if (stored) {
    const chosen = ours(stored)
    if (chosen) return chosen
  }
  for (const tag of browser) {
    const found = ours(tag)
    if (found) return found
  }
  return 'fr'
}

export function initI18n(): typeof i18next {
  i18next.use(initReactI18next).init({
    resources: { fr: { translation: fr }, en: { translation: en } },
    lng: pickLanguage(loadLanguage(), navigator.languages),
    fallbackLng: false,
    supportedLngs: LANGUAGES,
    initAsync: false,
    // React escapes what it renders.
    interpolation: { escapeValue: false },
  })
  const follow = (lng: string) => {
    document.documentElement.lang = lng
    document.title = i18next.t('app.title')
  }
  follow(i18next.language)
  i18next.on('languageChanged', follow)
  return i18next
}

/** Switches the language and remembers the choice on this device. */
export function switchLanguage(to: Language): void {
  saveLanguage(to)
  void i18next.changeLanguage(to)
}
