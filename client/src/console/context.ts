// What every signed-in console page reaches: the console's calls (a 401
// from any of them takes the teacher back to the sign-in) and the account.

import { createContext, useContext } from 'react'

import type { Account, ConsoleApi } from './api'

export interface ConsoleContextValue {
  api: ConsoleApi
  account: Account
}

export const ConsoleContext = createContext<ConsoleContextValue | null>(null)

export function useConsole(): ConsoleContextValue {
  const value = useContext(ConsoleContext)
  if (!value) throw new Error('useConsole outside the signed-in console')
  return value
}
