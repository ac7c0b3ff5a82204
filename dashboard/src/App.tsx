import { useEffect, useState } from 'react'
import { HashRouter, Navigate, NavLink, Route, Routes, useLocation } from 'react-router-dom'
import { AuthProvider, loadConfig, useAuth } from './auth'
import { FailureNotice } from './components/Notice'
import { Loading, PageBoundary, lazyPage } from './components/PageBoundary'
import { toFailure } from './components/useApi'
import type { Failure } from './lib/describe'
import type { DashboardConfig } from './lib/types'
import { SignInPage } from './pages/SignInPage'

// Each routed page is a chunk of its own, downloaded when first shown: the Agents list must not
// wait for livekit-client and LiveKit's components, which only the two call pages use. The
// sign-in page is not routed (it replaces the app until there is an account): it stays in the
// entry. bench.dashboard_bundle prints what each page loads; tests/dashboard/ keeps it so.
const AgentPage = lazyPage(() => import('./pages/AgentPage'), 'AgentPage')
const AgentsPage = lazyPage(() => import('./pages/AgentsPage'), 'AgentsPage')
const NewAgentPage = lazyPage(() => import('./pages/NewAgentPage'), 'NewAgentPage')
const CallsPage = lazyPage(() => import('./pages/CallsPage'), 'CallsPage')
const CallDetailPage = lazyPage(() => import('./pages/CallsPage'), 'CallDetailPage')
const DevelopersPage = lazyPage(() => import('./pages/DevelopersPage'), 'DevelopersPage')
const OperationsPage = lazyPage(() => import('./pages/OperationsPage'), 'OperationsPage')
const SecretsPage = lazyPage(() => import('./pages/SecretsPage'), 'SecretsPage')
const TestCallPage = lazyPage(() => import('./pages/TestCallPage'), 'TestCallPage')
const VoxiePage = lazyPage(() => import('./pages/VoxiePage'), 'VoxiePage')

export function App() {
  const [config, setConfig] = useState<DashboardConfig | null>(null)
  const [failure, setFailure] = useState<Failure | null>(null)
  const [attempt, setAttempt] = useState(0)
  useEffect(() => {
    loadConfig()
      .then(setConfig)
      .catch((error: unknown) => setFailure(toFailure(error)))
  }, [attempt])
  if (failure) {
    return (
      <main className="page page-narrow" id="main">
        <h1>Voxie is unavailable</h1>
        <FailureNotice failure={{ ...failure, action: 'retry' }} onRetry={() => { setFailure(null); setAttempt((a) => a + 1) }} />
      </main>
    )
  }
  if (!config) return <Loading />
  return (
    <AuthProvider config={config}>
      <HashRouter>
        <Shell />
      </HashRouter>
    </AuthProvider>
  )
}

function Shell() {
  const { account, signOut, config } = useAuth()
  const { pathname } = useLocation()
  // A new page moves focus to its content, as a page load would (filters change only the query).
  useEffect(() => {
    document.getElementById('main')?.focus({ preventScroll: true })
  }, [pathname])
  if (!account) return <SignInPage />
  return (
    <>
      <a
        className="skip-link"
        href="#main"
        onClick={(e) => {
          // The router owns the URL's hash; move focus instead of navigating.
          e.preventDefault()
          document.getElementById('main')?.focus()
        }}
      >
        Skip to content
      </a>
      <header className="topbar">
        <div className="topbar-inner">
          <span className="brand" aria-label="Voxie">
            <span className="brand-mark" aria-hidden="true">◉</span> Voxie
          </span>
          <nav aria-label="Main">
            <ul className="nav">
              <li><NavLink to="/agents" end>Agents</NavLink></li>
              <li><NavLink to="/voxie">Create with Voxie</NavLink></li>
              <li><NavLink to="/calls">Calls</NavLink></li>
              <li><NavLink to="/secrets">Secrets</NavLink></li>
              <li><NavLink to="/developers">Developers</NavLink></li>
              {account.operator && <li><NavLink to="/operations">Operations</NavLink></li>}
            </ul>
          </nav>
          <div className="account">
            <span className="account-name" title={account.email}>
              {account.operator ? 'Operator' : account.email}
              {config.platform_env !== 'prod' && <span className="env-badge">{config.platform_env}</span>}
            </span>
            <button type="button" className="button button-quiet" onClick={() => void signOut()}>
              Sign out
            </button>
          </div>
        </div>
      </header>
      <main id="main" className="page" tabIndex={-1}>
        <PageBoundary path={pathname}>
          <Routes>
            <Route path="/" element={<Navigate to="/agents" replace />} />
            <Route path="/agents" element={<AgentsPage />} />
            <Route path="/voxie" element={<VoxiePage />} />
            <Route path="/agents/new" element={<NewAgentPage />} />
            <Route path="/agents/:agentId" element={<AgentPage />} />
            <Route path="/agents/:agentId/voxie" element={<VoxiePage />} />
            <Route path="/agents/:agentId/test" element={<TestCallPage />} />
            <Route path="/calls" element={<CallsPage />} />
            <Route path="/calls/:sessionId" element={<CallDetailPage />} />
            <Route path="/secrets" element={<SecretsPage />} />
            <Route path="/developers" element={<DevelopersPage />} />
            <Route path="/operations" element={account.operator ? <OperationsPage /> : <NotAllowed />} />
            <Route path="*" element={<NotFoundPage />} />
          </Routes>
        </PageBoundary>
      </main>
    </>
  )
}

function NotAllowed() {
  return (
    <>
      <h1>Operations</h1>
      <p>Only the platform operator can see this page.</p>
    </>
  )
}

function NotFoundPage() {
  return (
    <>
      <h1>Page not found</h1>
      <p>
        There is nothing here. <NavLink to="/agents">Go to your agents</NavLink>.
      </p>
    </>
  )
}
