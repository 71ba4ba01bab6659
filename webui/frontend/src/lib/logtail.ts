/**
 * The console's live log (`/api/admin/logs/ws`, webui/admin/logstream.py): the first
 * frame holds the last lines, each later one the new lines and how many a slow
 * reader missed (`dropped`).
 */

export const KEEP = 2000

export interface LogFrame {
  lines: string[]
  dropped?: number
}

export function logSocketUrl(loc: Pick<Location, 'protocol' | 'host'>, lines: number): string {
  return `${loc.protocol === 'https:' ? 'wss' : 'ws'}://${loc.host}/api/admin/logs/ws?lines=${lines}`
}

/** A frame from the socket, or null when it is not one. */
export function parseLogFrame(data: unknown): LogFrame | null {
  if (typeof data !== 'string') return null
  try {
    const frame: unknown = JSON.parse(data)
    if (!frame || typeof frame !== 'object') return null
    const { lines, dropped } = frame as { lines?: unknown; dropped?: unknown }
    if (!Array.isArray(lines) || !lines.every((l) => typeof l === 'string')) return null
    return { lines, dropped: typeof dropped === 'number' ? dropped : 0 }
  } catch {
    return null
  }
}

/** The shown lines after a frame: the newest `keep`, a note where lines were missed. */
export function appendLines(shown: string[], frame: LogFrame, missed: string, keep = KEEP): string[] {
  const next = frame.dropped ? [...shown, missed, ...frame.lines] : [...shown, ...frame.lines]
  return next.length > keep ? next.slice(next.length - keep) : next
}
