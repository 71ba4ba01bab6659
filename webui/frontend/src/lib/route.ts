/** The few hash routes the UI knows: `#/setup?token=...`, `#/admin/<page>` (the
 * console), everything else is the chat. */

export interface Route {
  name: 'setup' | 'home' | 'admin'
  token: string | null
  /** the console's page (a resource name) */
  page?: string
}

export function parseHash(hash: string): Route {
  const raw = hash.replace(/^#/, '')
  const q = raw.indexOf('?')
  const path = q < 0 ? raw : raw.slice(0, q)
  const params = new URLSearchParams(q < 0 ? '' : raw.slice(q + 1))
  if (path === '/setup') return { name: 'setup', token: params.get('token') || null }
  if (path === '/admin' || path.startsWith('/admin/')) {
    return { name: 'admin', token: null, page: path.slice('/admin/'.length) || 'overview' }
  }
  return { name: 'home', token: null }
}

/** Drops the hash (the setup token must not linger in the address bar or history). */
export function clearHash(): void {
  history.replaceState(null, '', location.pathname + location.search)
}
