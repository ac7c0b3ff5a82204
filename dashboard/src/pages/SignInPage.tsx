import { useState, type FormEvent } from 'react'
import { useAuth } from '../auth'
import { FailureNotice, Notice } from '../components/Notice'
import { toFailure } from '../components/useApi'
import type { Failure } from '../lib/describe'
import { ApiError } from '../lib/problem'
import { useTitle } from '../components/useTitle'

export function SignInPage() {
  const { config, notice } = useAuth()
  useTitle('Sign in')
  return (
    <main className="page page-narrow signin" id="main">
      <p className="brand brand-large">
        <span className="brand-mark" aria-hidden="true">◉</span> Voxie
      </p>
      <h1>Sign in</h1>
      <p className="lead">Create voice agents by talking to Voxie, test them, and see every call.</p>
      {notice && <Notice kind="info">{notice}</Notice>}
      {config.auth.mode === 'supabase' ? <SupabaseSignIn /> : <DevSignIn />}
    </main>
  )
}

function DevSignIn() {
  const { signInDev } = useAuth()
  const [failure, setFailure] = useState<Failure | null>(null)
  const [busy, setBusy] = useState(false)
  async function signIn(as: 'user' | 'operator') {
    setBusy(true)
    setFailure(null)
    try {
      await signInDev(as)
    } catch (error) {
      if (error instanceof ApiError && error.status === 404) {
        setFailure({
          message: 'Dev sign-in is unavailable here: the platform offers it only in dev, on a loopback address. Configure Supabase Auth to sign in.',
          retryAfterS: null,
          action: null,
        })
      } else {
        setFailure(toFailure(error))
      }
    } finally {
      setBusy(false)
    }
  }
  return (
    <section className="card" aria-labelledby="dev-title">
      <h2 id="dev-title">Local development</h2>
      <p>This platform runs without Supabase Auth. Sign in as the local dev user, or as the operator to see operations.</p>
      <div className="button-row">
        <button type="button" className="button button-primary" disabled={busy} onClick={() => void signIn('user')}>
          Sign in as dev user
        </button>
        <button type="button" className="button" disabled={busy} onClick={() => void signIn('operator')}>
          Sign in as operator
        </button>
      </div>
      {failure && <FailureNotice failure={failure} />}
    </section>
  )
}

function SupabaseSignIn() {
  const { signInPassword, sendMagicLink, config } = useAuth()
  const [email, setEmail] = useState('')
  const [password, setPassword] = useState('')
  const [error, setError] = useState<string | null>(null)
  const [sent, setSent] = useState(false)
  const [busy, setBusy] = useState(false)
  async function run(action: () => Promise<void>) {
    setBusy(true)
    setError(null)
    try {
      await action()
    } catch (e) {
      setError(e instanceof Error && e.message ? e.message : 'Sign-in failed. Check your email and password.')
    } finally {
      setBusy(false)
    }
  }
  if (!config.auth.supabase_url || !config.auth.supabase_anon_key) {
    return (
      <Notice kind="error">
        Sign-in is not configured on this platform: it needs Supabase Auth (SUPABASE_URL and SUPABASE_ANON_KEY), or, for local development,
        PLATFORM_ENV=dev with the backend on a loopback address.
      </Notice>
    )
  }
  function submit(event: FormEvent) {
    event.preventDefault()
    void run(() => signInPassword(email, password))
  }
  return (
    <section className="card" aria-labelledby="email-title">
      <h2 id="email-title">Email</h2>
      <form onSubmit={submit} className="form">
        <div className="field">
          <label htmlFor="email">Email</label>
          <input id="email" type="email" autoComplete="email" required value={email} onChange={(e) => setEmail(e.target.value)} />
        </div>
        <div className="field">
          <label htmlFor="password">Password</label>
          <input id="password" type="password" autoComplete="current-password" value={password} onChange={(e) => setPassword(e.target.value)} />
        </div>
        <div className="button-row">
          <button type="submit" className="button button-primary" disabled={busy || !password}>
            Sign in
          </button>
          <button
            type="button"
            className="button"
            disabled={busy || !email}
            onClick={() => void run(async () => { await sendMagicLink(email); setSent(true) })}
          >
            Email me a sign-in link
          </button>
        </div>
      </form>
      {sent && <Notice kind="success">Check your inbox: the link signs you in here.</Notice>}
      {error && <Notice kind="error">{error}</Notice>}
    </section>
  )
}
