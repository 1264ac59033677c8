// Types every `t(...)` key against the English catalog: a key missing from
// it does not compile. (The unit tests check fr.json has the same keys.)
import 'i18next'
import type en from './en.json'

declare module 'i18next' {
  interface CustomTypeOptions {
    defaultNS: 'translation'
    resources: { translation: typeof en }
  }
}
