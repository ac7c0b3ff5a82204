/**
 * Sign-in. Production: Supabase Auth (email + password, or a magic link) through supabase-js,
 * which keeps the session and refreshes the access token before it expires. Local dev without
 * Supabase: one click on `POST /api/dev/sign-in` (the backend answers it only in dev on
 * loopback). Either way the API gets `Authorization: Bearer <access token>`; `GET /api/me` says
 * whether the caller is the operator, and a 401 anywhere signs out.
 */

import { createClient, type SupabaseClient } from '@supabase/supabase-js'
import { createContext, useCallback, useContext, useEffect, useMemo, useRef, useState, type ReactNode } from 'react'
import { configureApi, request } from './lib/api'
import { ApiError } from './lib/problem'
import type { DashboardConfig, DevSignIn, Me } from './lib/types'

export interface Account {
  email: string
  /** Whose agents are the caller's own (the operator's too): from `GET /api/me`. */
  ownerId: string
  operator: boolean
}

interface DevSession {
  token: string
  expiresAt: number
  email: string
}

export interface AuthState {
  config: DashboardConfig
  account: Account | null
  /** Why the last session ended, shown on the sign-in page. */
  notice: string | null
  signInDev: (as: 'user' | 'operator') => Promise<void>
  signInPassword: (email: string, password: string) => Promise<void>
  sendMagicLink: (email: string) => Promise<void>
  signOut: () => Promise<void>
}

const DEV_KEY = 'voxie.dev-session'
const AuthContext = createContext<AuthState | null>(null)

export function useAuth(): AuthState {
  const value = useContext(AuthContext)
  if (!value) throw new Error('useAuth outside AuthProvider')
  return value
}

function readDevSession(): DevSession | null {
  try {
    const value = JSON.parse(localStorage.getItem(DEV_KEY) ?? 'null') as DevSession | null
    if (value && typeof value.token === 'string' && value.expiresAt * 1000 > Date.now()) return value
  } catch {
    // unreadable: sign in again
  }
  localStorage.removeItem(DEV_KEY)
  return null
}

export function AuthProvider({ config, children }: { config: DashboardConfig; children: ReactNode }) {
  const supabase = useMemo<SupabaseClient | null>(() => {
    const { mode, supabase_url: url, supabase_anon_key: key } = config.auth
    if (mode !== 'supabase' || !url || !key) return null
    return createClient(url, key, { auth: { persistSession: true, autoRefreshToken: true, detectSessionInUrl: true } })
  }, [config])
  const [account, setAccount] = useState<Account | null>(null)
  const [ready, setReady] = useState(false)
  const [notice, setNotice] = useState<string | null>(null)
  const devSession = useRef<DevSession | null>(config.auth.mode === 'dev' ? readDevSession() : null)

  const getToken = useCallback(async (): Promise<string | null> => {
    if (supabase) {
      // getSession refreshes an expired access token first (autoRefreshToken).
      const { data } = await supabase.auth.getSession()
      return data.session?.access_token ?? null
    }
    const dev = devSession.current
    if (dev && dev.expiresAt * 1000 <= Date.now()) {
      devSession.current = null
      localStorage.removeItem(DEV_KEY)
      return null
    }
    return dev?.token ?? null
  }, [supabase])

  const endSession = useCallback(
    (why: string | null) => {
      devSession.current = null
      localStorage.removeItem(DEV_KEY)
      setAccount(null)
      setNotice(why)
      if (supabase) void supabase.auth.signOut({ scope: 'local' })
    },
    [supabase],
  )

  useEffect(() => {
    configureApi({ getToken, onUnauthorized: () => endSession('Your session has ended. Please sign in again.') })
  }, [getToken, endSession])

  const loadAccount = useCallback(async (email: string): Promise<void> => {
    const me = await request<Me>('/api/me')
    setAccount({ email, ownerId: me.owner_id, operator: me.operator })
    setNotice(null)
  }, [])

  // On load: resume a stored session, if any.
  useEffect(() => {
    let cancelled = false
    async function resume() {
      try {
        if (supabase) {
          const { data } = await supabase.auth.getSession()
          if (data.session) await loadAccount(data.session.user.email ?? '')
        } else if (devSession.current) {
          await loadAccount(devSession.current.email)
        }
      } catch {
        if (!cancelled) endSession(null)
      } finally {
        if (!cancelled) setReady(true)
      }
    }
    void resume()
    return () => {
      cancelled = true
    }
  }, [supabase, loadAccount, endSession])

  // Supabase: a magic link's return, a refresh, or a sign-out in another tab.
  useEffect(() => {
    if (!supabase) return
    const { data } = supabase.auth.onAuthStateChange((event, session) => {
      if (event === 'SIGNED_IN' && session) {
        setTimeout(() => void loadAccount(session.user.email ?? '').catch(() => endSession(null)), 0)
      } else if (event === 'SIGNED_OUT') {
        setAccount(null)
      }
    })
    return () => data.subscription.unsubscribe()
  }, [supabase, loadAccount, endSession])

  const value = useMemo<AuthState>(
    () => ({
      config,
      account,
      notice,
      signInDev: async (as) => {
        const answer = await request<DevSignIn>('/api/dev/sign-in', { method: 'POST', body: { as }, anonymous: true })
        devSession.current = { token: answer.access_token, expiresAt: answer.expires_at, email: answer.user.email }
        localStorage.setItem(DEV_KEY, JSON.stringify(devSession.current))
        await loadAccount(answer.user.email)
      },
      signInPassword: async (email, password) => {
        if (!supabase) throw new Error('Supabase sign-in is not configured')
        const { data, error } = await supabase.auth.signInWithPassword({ email, password })
        if (error) throw error
        await loadAccount(data.user.email ?? email)
      },
      sendMagicLink: async (email) => {
        if (!supabase) throw new Error('Supabase sign-in is not configured')
        const { error } = await supabase.auth.signInWithOtp({
          email,
          options: { emailRedirectTo: `${window.location.origin}${window.location.pathname}` },
        })
        if (error) throw error
      },
      signOut: async () => {
        if (supabase) await supabase.auth.signOut()
        endSession(null)
      },
    }),
    [config, account, notice, supabase, loadAccount, endSession],
  )

  if (!ready) return <p className="splash" role="status">Loading…</p>
  return <AuthContext.Provider value={value}>{children}</AuthContext.Provider>
}

/** `/dashboard-config.json`: which sign-in this deployment uses. */
export async function loadConfig(): Promise<DashboardConfig> {
  const config = await request<DashboardConfig>('/dashboard-config.json', { anonymous: true })
  if (!config || typeof config !== 'object' || !config.auth) throw new ApiError(500, { detail: 'the dashboard configuration is unreadable' })
  return config
}
