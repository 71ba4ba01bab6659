/**
 * The chat WebSocket (`/api/chat/ws`, adapters/web/PROTOCOL.md): frame validation,
 * keep-alive pings and reconnection with jittered exponential backoff.
 *
 * Close code 4401 means the session is gone; reconnecting would only fail again, so
 * the client stops and reports it instead.
 */

export type FinishReason = 'stop' | 'length' | 'cancelled' | 'error' | 'blocked'
export type ErrorCode =
  | 'bad_frame'
  | 'too_long'
  | 'busy'
  | 'not_found'
  | 'rate_limited'
  | 'internal'

export interface Usage {
  prompt_tokens: number
  completion_tokens: number
}

export type ServerFrame =
  | {
      type: 'start'
      id: string
      conversation_id: string
      title: string
      model: string
      demo: boolean
    }
  | { type: 'delta'; id: string; text: string }
  | { type: 'reasoning'; id: string; text: string }
  | {
      type: 'done'
      id: string
      conversation_id: string
      finish_reason: FinishReason | string
      usage: Usage | null
    }
  | { type: 'error'; id: string | null; code: ErrorCode | string; message: string }
  | { type: 'pong' }

export type ClientFrame =
  | { type: 'send'; id: string; conversation_id: string | null; text: string }
  | { type: 'stop' }
  | { type: 'ping' }

export const CLOSE_UNAUTHORIZED = 4401

type Obj = Record<string, unknown>

const str = (o: Obj, k: string): string | null => (typeof o[k] === 'string' ? (o[k] as string) : null)

/** Parses and checks one text frame from the bot; null for anything malformed. */
export function parseFrame(data: unknown): ServerFrame | null {
  if (typeof data !== 'string') return null
  let raw: unknown
  try {
    raw = JSON.parse(data)
  } catch {
    return null
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return null
  const o = raw as Obj
  const id = str(o, 'id')
  switch (o.type) {
    case 'start': {
      const conv = str(o, 'conversation_id')
      if (id === null || conv === null) return null
      return {
        type: 'start',
        id,
        conversation_id: conv,
        title: str(o, 'title') ?? '',
        model: str(o, 'model') ?? '',
        demo: o.demo === true,
      }
    }
    case 'delta':
    case 'reasoning': {
      const text = str(o, 'text')
      if (id === null || text === null) return null
      return { type: o.type, id, text }
    }
    case 'done': {
      if (id === null) return null
      const u = o.usage
      let usage: Usage | null = null
      if (u && typeof u === 'object') {
        const uo = u as Obj
        usage = {
          prompt_tokens: Number(uo.prompt_tokens) || 0,
          completion_tokens: Number(uo.completion_tokens) || 0,
        }
      }
      return {
        type: 'done',
        id,
        conversation_id: str(o, 'conversation_id') ?? '',
        finish_reason: str(o, 'finish_reason') ?? 'stop',
        usage,
      }
    }
    case 'error':
      return {
        type: 'error',
        id,
        code: str(o, 'code') ?? 'internal',
        message: str(o, 'message') ?? '',
      }
    case 'pong':
      return { type: 'pong' }
    default:
      return null
  }
}

/** The part of the browser's WebSocket that the client uses (tests pass a fake). */
export interface SocketLike {
  readonly readyState: number
  send(data: string): void
  close(code?: number, reason?: string): void
  onopen: ((ev: Event) => unknown) | null
  onclose: ((ev: CloseEvent) => unknown) | null
  onmessage: ((ev: MessageEvent) => unknown) | null
  onerror: ((ev: Event) => unknown) | null
}

export type ConnectionStatus = 'connecting' | 'open' | 'closed'

export interface ChatSocketHandlers {
  frame(frame: ServerFrame): void
  status(status: ConnectionStatus): void
  /** The socket closed (any reason) while it had been open or connecting. */
  disconnected(): void
  /** Close code 4401: the session cookie is missing or expired. */
  unauthorized(): void
}

export interface ChatSocketOptions {
  factory?: (url: string) => SocketLike
  baseDelayMs?: number
  maxDelayMs?: number
  pingIntervalMs?: number
  random?: () => number
}

const OPEN = 1

export function chatSocketUrl(loc: Pick<Location, 'protocol' | 'host'> = location): string {
  return `${loc.protocol === 'https:' ? 'wss' : 'ws'}://${loc.host}/api/chat/ws`
}

export class ChatSocket {
  private ws: SocketLike | null = null
  private attempt = 0
  private reconnectTimer: ReturnType<typeof setTimeout> | null = null
  private pingTimer: ReturnType<typeof setInterval> | null = null
  private stopped = true
  private readonly factory: (url: string) => SocketLike
  private readonly baseDelay: number
  private readonly maxDelay: number
  private readonly pingInterval: number
  private readonly random: () => number

  constructor(
    private readonly url: string,
    private readonly handlers: ChatSocketHandlers,
    options: ChatSocketOptions = {},
  ) {
    this.factory = options.factory ?? ((u) => new WebSocket(u))
    this.baseDelay = options.baseDelayMs ?? 500
    this.maxDelay = options.maxDelayMs ?? 15_000
    this.pingInterval = options.pingIntervalMs ?? 25_000
    this.random = options.random ?? Math.random
  }

  get isOpen(): boolean {
    return this.ws !== null && this.ws.readyState === OPEN
  }

  /** Delay before reconnect attempt `n` (0-based): doubling, capped, 50-100% jitter. */
  backoffDelay(n: number): number {
    const full = Math.min(this.maxDelay, this.baseDelay * 2 ** Math.min(n, 30))
    return Math.round(full * (0.5 + this.random() / 2))
  }

  connect(): void {
    this.stopped = false
    this.clearReconnect()
    if (this.ws) return
    this.handlers.status('connecting')
    let ws: SocketLike
    try {
      ws = this.factory(this.url)
    } catch {
      this.scheduleReconnect()
      return
    }
    this.ws = ws
    ws.onopen = () => {
      if (this.ws !== ws) return
      this.attempt = 0
      this.startPing()
      this.handlers.status('open')
    }
    ws.onmessage = (ev: MessageEvent) => {
      if (this.ws !== ws) return
      const frame = parseFrame(ev.data)
      if (frame !== null) this.handlers.frame(frame)
    }
    ws.onerror = () => {
      // A close event always follows; reconnection is handled there.
    }
    ws.onclose = (ev: CloseEvent) => {
      if (this.ws !== ws) return
      this.ws = null
      this.stopPing()
      this.handlers.status('closed')
      this.handlers.disconnected()
      if (ev.code === CLOSE_UNAUTHORIZED) {
        this.stopped = true
        this.handlers.unauthorized()
        return
      }
      this.scheduleReconnect()
    }
  }

  /** Closes for good (logout); no reconnection. */
  close(): void {
    this.stopped = true
    this.clearReconnect()
    this.stopPing()
    const ws = this.ws
    this.ws = null
    if (ws) {
      ws.onclose = null
      ws.onmessage = null
      ws.close(1000, 'bye')
      this.handlers.status('closed')
    }
  }

  /** Sends a frame; false when the socket is not open. */
  send(frame: ClientFrame): boolean {
    if (!this.ws || this.ws.readyState !== OPEN) return false
    this.ws.send(JSON.stringify(frame))
    return true
  }

  /** Reconnects now (e.g. the tab came back online) instead of waiting out the backoff. */
  reconnectNow(): void {
    if (this.stopped || this.ws) return
    this.attempt = 0
    this.connect()
  }

  private scheduleReconnect(): void {
    if (this.stopped) return
    this.clearReconnect()
    const delay = this.backoffDelay(this.attempt)
    this.attempt += 1
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null
      this.connect()
    }, delay)
  }

  private clearReconnect(): void {
    if (this.reconnectTimer !== null) {
      clearTimeout(this.reconnectTimer)
      this.reconnectTimer = null
    }
  }

  private startPing(): void {
    this.stopPing()
    this.pingTimer = setInterval(() => this.send({ type: 'ping' }), this.pingInterval)
  }

  private stopPing(): void {
    if (this.pingTimer !== null) {
      clearInterval(this.pingTimer)
      this.pingTimer = null
    }
  }
}
