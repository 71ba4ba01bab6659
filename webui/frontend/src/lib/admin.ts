/**
 * The admin API (`/api/admin/`, webui/admin in the bot) as the console uses it:
 * which resources exist, who may open them, and typed helpers for lists and changes.
 */
import { request } from './api'

export type Role = 'admin' | 'operator' | 'user'

export interface Page<T> {
  total: number
  offset: number
  limit: number
  items: T[]
}

export type Row = Record<string, unknown>

export interface Column {
  key: string
  /** inline-editable, and how the edited text becomes a value */
  edit?: 'text' | 'number' | 'bool' | 'select' | 'switches'
  options?: string[]
  /** seconds since the epoch, shown as a local time */
  epoch?: boolean
}

export interface Resource {
  name: string
  /** path under /api/admin */
  path: string
  adminOnly: boolean
  /** the row's id in item URLs (PATCH/DELETE path/{id}); none: read only */
  id?: string
  columns: Column[]
  /** PATCH (default) or PUT to change one field inline */
  editMethod?: 'PATCH' | 'PUT'
  /** fields of the "add" form */
  create?: Column[]
  canDelete?: boolean
  paged: boolean
}

export const WAKE_MODES = ['mention', 'prefix', 'nickname', 'all', 'random']

export const RESOURCES: Resource[] = [
  { name: 'overview', path: '/overview', adminOnly: false, columns: [], paged: false },
  {
    name: 'groups', path: '/groups', adminOnly: false, id: 'key', paged: true,
    columns: [
      { key: 'key' }, { key: 'name', edit: 'text' },
      { key: 'settings.enabled', edit: 'bool' },
      { key: 'settings.wake', edit: 'select', options: WAKE_MODES },
      { key: 'settings.prefixes', edit: 'text' }, { key: 'settings.names', edit: 'text' },
      { key: 'settings.probability', edit: 'number' },
      { key: 'settings.persona', edit: 'text' }, { key: 'settings.model', edit: 'text' },
      { key: 'settings.history', edit: 'select', options: ['group', 'user'] },
      { key: 'settings.rate_limit', edit: 'number' },
      // the plugin manager's per-group switches (the plugins page shows them too)
      { key: 'plugins', edit: 'switches' },
    ],
  },
  {
    name: 'keywords', path: '/keywords', adminOnly: false, id: 'id', paged: true, canDelete: true,
    columns: [
      { key: 'id' }, { key: 'scope', edit: 'text' },
      { key: 'match', edit: 'select', options: ['exact', 'contains', 'regex'] },
      { key: 'pattern', edit: 'text' }, { key: 'reply', edit: 'text' },
      { key: 'priority', edit: 'number' }, { key: 'enabled', edit: 'bool' },
      { key: 'hit_count' }, { key: 'last_hit_at' },
    ],
    create: [
      { key: 'match', edit: 'select', options: ['contains', 'exact', 'regex'] },
      { key: 'pattern', edit: 'text' }, { key: 'reply', edit: 'text' },
    ],
  },
  {
    name: 'sensitive-words', path: '/sensitive-words', adminOnly: false, id: 'id', paged: true,
    canDelete: true,
    columns: [{ key: 'word' }, { key: 'category' }, { key: 'created_by' }, { key: 'created_at' }],
    create: [{ key: 'word', edit: 'text' }, { key: 'category', edit: 'text' }],
  },
  {
    name: 'budgets', path: '/budgets', adminOnly: false, paged: true,
    columns: [
      { key: 'kind' }, { key: 'key' }, { key: 'daily_limit' }, { key: 'monthly_limit' },
      { key: 'day_used' }, { key: 'month_used' },
    ],
  },
  {
    name: 'personas', path: '/personas', adminOnly: false, id: 'name', paged: false,
    editMethod: 'PUT', canDelete: true,
    columns: [{ key: 'name' }, { key: 'prompt', edit: 'text' }, { key: 'updated_at' }],
    create: [{ key: 'name', edit: 'text' }, { key: 'prompt', edit: 'text' }],
  },
  {
    name: 'bans', path: '/bans', adminOnly: false, id: 'user_key', paged: true, canDelete: true,
    columns: [{ key: 'user_key' }, { key: 'reason' }, { key: 'created_by' }, { key: 'created_at' }],
    create: [{ key: 'user_key', edit: 'text' }, { key: 'reason', edit: 'text' }],
  },
  {
    name: 'platform-users', path: '/platform-users', adminOnly: false, paged: true,
    columns: [
      { key: 'user_key' }, { key: 'platform' }, { key: 'conversations' }, { key: 'banned' },
      { key: 'last_seen_at' },
    ],
  },
  {
    name: 'adapters', path: '/adapters', adminOnly: false, paged: false,
    columns: [
      { key: 'adapter' }, { key: 'self_id' }, { key: 'online' }, { key: 'status' },
      { key: 'reconnects' }, { key: 'connected_at', epoch: true },
      { key: 'last_event_at', epoch: true },
      { key: 'lease_holder' }, { key: 'lease_here' },
    ],
  },
  {
    name: 'providers', path: '/providers', adminOnly: false, paged: false,
    columns: [
      { key: 'base_url' }, { key: 'circuit' }, { key: 'failures' }, { key: 'in_flight' },
    ],
  },
  {
    name: 'users', path: '/users', adminOnly: true, id: 'name', paged: true, canDelete: true,
    columns: [
      { key: 'name' }, { key: 'role', edit: 'select', options: ['admin', 'operator', 'user'] },
      { key: 'disabled', edit: 'bool' }, { key: 'created_at' },
    ],
    create: [
      { key: 'name', edit: 'text' }, { key: 'password', edit: 'text' },
      { key: 'role', edit: 'select', options: ['user', 'operator', 'admin'] },
    ],
  },
  {
    name: 'api-keys', path: '/api-keys', adminOnly: true, id: 'id', paged: true, canDelete: true,
    columns: [
      { key: 'id' }, { key: 'user' }, { key: 'name' }, { key: 'prefix' }, { key: 'revoked' },
      { key: 'created_at' },
    ],
  },
  {
    name: 'audit', path: '/audit', adminOnly: true, paged: true,
    columns: [
      { key: 'created_at' }, { key: 'actor' }, { key: 'action' }, { key: 'target' },
      { key: 'before' }, { key: 'after' },
    ],
  },
  { name: 'schedules', path: '/schedules', adminOnly: true, columns: [], paged: false },
  { name: 'plugins', path: '/plugins', adminOnly: true, columns: [], paged: false },
  { name: 'logs', path: '/logs', adminOnly: true, columns: [], paged: false },
]

export function canOpen(role: Role | undefined, resource: Resource): boolean {
  if (role === 'admin') return true
  return role === 'operator' && !resource.adminOnly
}

/** A (dotted) field of a row: `settings.wake`. */
export function getField(row: Row, key: string): unknown {
  let value: unknown = row
  for (const part of key.split('.')) {
    if (value === null || typeof value !== 'object') return undefined
    value = (value as Row)[part]
  }
  return value
}

/** The text a table cell shows. */
export function showValue(value: unknown): string {
  if (value === null || value === undefined) return '—'
  if (Array.isArray(value)) return value.join(', ')
  if (typeof value === 'object') return JSON.stringify(value)
  return String(value)
}

/** Plugin switches as text: `chat=on, keywords=off`. */
export function showSwitches(value: Record<string, boolean>): string {
  return Object.entries(value).map(([name, on]) => `${name}=${on ? 'on' : 'off'}`).join(', ')
}

/** `chat=on, keywords=off` as switches; an entry whose state is not on/off is left out. */
export function parseSwitches(text: string): Record<string, boolean> {
  const out: Record<string, boolean> = {}
  for (const entry of text.split(/[,，]\s*/)) {
    const [name, state] = entry.split('=').map((part) => part.trim())
    if (!name || !state) continue
    if (['on', 'true', '开'].includes(state)) out[name] = true
    else if (['off', 'false', '关'].includes(state)) out[name] = false
  }
  return out
}

/** The text of a column's cell: epoch seconds as a local time. */
export function showCell(column: Column, value: unknown): string {
  if (column.epoch && typeof value === 'number') return new Date(value * 1000).toLocaleString()
  if (column.edit === 'switches' && value && typeof value === 'object') {
    return showSwitches(value as Record<string, boolean>) || '—'
  }
  return showValue(value)
}

/** The text an inline edit starts from. */
export function editText(column: Column, value: unknown): string {
  if (column.edit === 'switches' && value && typeof value === 'object') {
    return showSwitches(value as Record<string, boolean>)
  }
  if (Array.isArray(value)) return value.join(', ')
  return value === null || value === undefined ? '' : String(value)
}

/** The value an inline edit stands for, from the text the user typed. */
export function parseEdit(column: Column, text: string, old: unknown): unknown {
  const trimmed = text.trim()
  if (column.edit === 'bool') return trimmed === 'true'
  if (column.edit === 'number') return trimmed === '' ? null : Number(trimmed)
  if (column.edit === 'switches') return parseSwitches(trimmed)
  if (Array.isArray(old)) return trimmed ? trimmed.split(/[,，]\s*/).filter(Boolean) : []
  if (trimmed === '' && old === null) return null
  return text
}

/** The body that changes one field: `{settings: {...all settings, wake}}` for groups. */
export function changeBody(resource: Resource, row: Row, key: string, value: unknown): Row {
  if (key.startsWith('settings.')) {
    const settings = { ...(row.settings as Row), [key.slice('settings.'.length)]: value }
    return { settings }
  }
  if (resource.editMethod === 'PUT') return { ...pick(row, resource), [key]: value }
  return { [key]: value }
}

function pick(row: Row, resource: Resource): Row {
  const out: Row = {}
  for (const c of resource.create ?? []) out[c.key] = row[c.key]
  return out
}

export function itemPath(resource: Resource, row: Row): string {
  const id = String(getField(row, resource.id ?? 'id'))
  return `/api/admin${resource.path}/${encodeURIComponent(id)}`
}

export function listPath(resource: Resource, q: string, offset: number, limit: number): string {
  const params = new URLSearchParams()
  if (q) params.set('q', q)
  if (resource.paged) {
    params.set('offset', String(offset))
    params.set('limit', String(limit))
  }
  const query = params.toString()
  return `/api/admin${resource.path}${query ? `?${query}` : ''}`
}

export async function list(resource: Resource, q: string, offset: number, limit: number): Promise<Page<Row>> {
  const data = await request<Page<Row> | Row[]>('GET', listPath(resource, q, offset, limit))
  if (Array.isArray(data)) {
    const items = q ? data.filter((r) => JSON.stringify(r).toLowerCase().includes(q.toLowerCase())) : data
    return { total: items.length, offset: 0, limit: items.length, items }
  }
  return data
}

export const admin = {
  get: <T>(path: string) => request<T>('GET', `/api/admin${path}`),
  send: <T>(method: string, path: string, body?: unknown) => request<T>(method, path, body),
}
