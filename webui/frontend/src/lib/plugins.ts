/**
 * The loaded plugins as the console's plugins page uses them
 * (`/api/admin/plugins`, webui/admin/plugins.py in the bot): switches globally or
 * per group (the plugin manager's own, applied at once), installs of a pinned
 * `name==version` (loaded after a graceful restart) and removals.
 */
import { request } from './api'

export interface Plugin {
  name: string
  module: string
  description: string
  kind: 'builtin' | 'community'
  managed: boolean
  version: string
  enabled: boolean
  groups: Record<string, boolean>
}

export interface PluginList {
  items: Plugin[]
  pending: string[]
}

export interface Installed {
  name: string
  version: string
  module: string
  restart_required: boolean
  message: string
}

export const BASE = '/api/admin/plugins'

/** A PyPI name with one pinned version (what the API installs); the server checks again. */
export function pinnedSpec(spec: string): boolean {
  return /^[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?==[A-Za-z0-9][A-Za-z0-9.+!_-]*$/.test(spec.trim())
}

/** A group key as the bot writes it (`qq:12345`), or `global`. */
export function validScope(scope: string): boolean {
  return scope === 'global' || /^[a-z0-9_]+:.+$/.test(scope)
}

/** The group switches of a plugin, sorted by group key. */
export function groupSwitches(plugin: Plugin): Array<[string, boolean]> {
  return Object.entries(plugin.groups).sort(([a], [b]) => a.localeCompare(b))
}

export const plugins = {
  list: () => request<PluginList>('GET', BASE),
  setSwitch: (name: string, scope: string, enabled: boolean) =>
    request<Plugin>('PUT', `${BASE}/${encodeURIComponent(name)}/switch`, { scope, enabled }),
  install: (spec: string) => request<Installed>('POST', BASE, { spec: spec.trim() }),
  remove: (name: string) => request<Installed>('DELETE', `${BASE}/${encodeURIComponent(name)}`),
}
