/**
 * The bot's HTTP JSON API (adapters/web/PROTOCOL.md, "Authentication").
 *
 * Same-origin only; the session is an HttpOnly cookie, and state-changing requests
 * echo the readable `freechat_csrf` cookie in `X-CSRF-Token` (double submit).
 */

export interface User {
  name: string
  is_admin: boolean
  /** admin, operator or user (the console is for the first two) */
  role?: 'admin' | 'operator' | 'user'
}

export interface AuthState {
  setup_required: boolean
  user: User | null
}

export interface Info {
  version: string
  model: string
  demo_model: boolean
  max_message_chars: number
}

export interface ConversationSummary {
  id: string
  title: string
  updated_at: string
}

export interface StoredMessage {
  role: 'user' | 'assistant' | 'system'
  content: string
  created_at: string
  demo: boolean
}

export interface Conversation {
  id: string
  title: string
  messages: StoredMessage[]
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly detail: string,
  ) {
    super(detail || `HTTP ${status}`)
    this.name = 'ApiError'
  }
}

const UNSAFE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE'])

/** Reads one cookie by name from a `document.cookie` string. */
export function readCookie(name: string, cookies: string = document.cookie): string | null {
  for (const part of cookies.split(';')) {
    const eq = part.indexOf('=')
    if (eq < 0) continue
    if (part.slice(0, eq).trim() === name) {
      try {
        return decodeURIComponent(part.slice(eq + 1).trim())
      } catch {
        return part.slice(eq + 1).trim()
      }
    }
  }
  return null
}

export async function request<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { Accept: 'application/json' }
  if (body !== undefined) headers['Content-Type'] = 'application/json'
  if (UNSAFE_METHODS.has(method)) {
    const csrf = readCookie('freechat_csrf')
    if (csrf) headers['X-CSRF-Token'] = csrf
  }
  const res = await fetch(path, {
    method,
    headers,
    credentials: 'same-origin',
    body: body === undefined ? undefined : JSON.stringify(body),
  })
  if (!res.ok) {
    let detail = ''
    try {
      const data: unknown = await res.json()
      if (data && typeof data === 'object' && 'detail' in data) {
        const d = (data as { detail: unknown }).detail
        detail = typeof d === 'string' ? d : JSON.stringify(d)
      }
    } catch {
      // Not JSON (a proxy's error page): the status alone must do.
    }
    throw new ApiError(res.status, detail)
  }
  if (res.status === 204) return undefined as T
  const text = await res.text()
  return (text ? JSON.parse(text) : undefined) as T
}

export const api = {
  state: () => request<AuthState>('GET', '/api/auth/state'),
  login: (username: string, password: string) =>
    request<{ user: User }>('POST', '/api/auth/login', { username, password }),
  setup: (token: string, username: string, password: string) =>
    request<{ user: User }>('POST', '/api/auth/setup', { token, username, password }),
  logout: () => request<void>('POST', '/api/auth/logout'),
  me: () => request<{ user: User }>('GET', '/api/auth/me'),
  info: () => request<Info>('GET', '/api/info'),
  conversations: () =>
    request<{ items: ConversationSummary[] }>('GET', '/api/conversations'),
  conversation: (id: string) =>
    request<Conversation>('GET', `/api/conversations/${encodeURIComponent(id)}`),
  deleteConversation: (id: string) =>
    request<void>('DELETE', `/api/conversations/${encodeURIComponent(id)}`),
}
