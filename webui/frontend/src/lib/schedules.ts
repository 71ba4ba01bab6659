/**
 * The scheduler's jobs as the console's schedules page uses them
 * (`/api/admin/schedules`, webui/schedules.py in the bot).
 */
import { request } from './api'

export type Trigger = 'cron' | 'interval' | 'date'
export type Action = 'text' | 'prompt'

export interface Job {
  name: string
  trigger: Trigger
  spec: string
  timezone: string
  targets: string[]
  action: string
  payload: string
  enabled: boolean
  failures: number
  next_run: string | null
  last_run: string | null
  last_outcome: string | null
  created_by: string
}

export interface JobForm {
  name: string
  trigger: Trigger
  spec: string
  timezone: string
  targets: string
  action: Action
  payload: string
}

export const BASE = '/api/admin/schedules'

export function emptyForm(): JobForm {
  return { name: '', trigger: 'cron', spec: '', timezone: 'Asia/Shanghai', targets: '', action: 'text', payload: '' }
}

/** The body of a new job: targets split on commas (either width) or whitespace. */
export function jobBody(form: JobForm): Record<string, unknown> {
  return {
    name: form.name.trim(),
    trigger: form.trigger,
    spec: form.spec.trim(),
    timezone: form.timezone.trim() || 'Asia/Shanghai',
    targets: form.targets.split(/[,，\s]+/).filter(Boolean),
    action: form.action,
    payload: form.payload,
  }
}

/** How a job fires, short: `0 8 * * *`, `every 3600 s`, `at 2027-01-01T08:00`. */
export function when(job: Pick<Job, 'trigger' | 'spec'>): string {
  if (job.trigger === 'interval') return `every ${job.spec} s`
  if (job.trigger === 'date') return `at ${job.spec}`
  return job.spec
}

/** A time from the API in the browser's own zone, or a dash. */
export function localTime(iso: string | null): string {
  if (!iso) return '—'
  const at = new Date(iso)
  return Number.isNaN(at.getTime()) ? iso : at.toLocaleString()
}

export const schedules = {
  list: () => request<{ jobs: Job[]; plugin_jobs: Record<string, unknown>[] }>('GET', BASE),
  add: (form: JobForm) => request<Job>('POST', BASE, jobBody(form)),
  act: (name: string, op: 'pause' | 'resume' | 'run') =>
    request<Job>('POST', `${BASE}/${encodeURIComponent(name)}/${op}`),
  remove: (name: string) => request<void>('DELETE', `${BASE}/${encodeURIComponent(name)}`),
}
