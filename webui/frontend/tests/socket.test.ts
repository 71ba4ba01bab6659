import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { ChatSocket, chatSocketUrl, parseFrame, type ChatSocketHandlers, type SocketLike } from '../src/lib/socket'

class FakeSocket implements SocketLike {
  readyState = 0
  sent: string[] = []
  closed: Array<[number | undefined, string | undefined]> = []
  onopen: ((ev: Event) => unknown) | null = null
  onclose: ((ev: CloseEvent) => unknown) | null = null
  onmessage: ((ev: MessageEvent) => unknown) | null = null
  onerror: ((ev: Event) => unknown) | null = null
  constructor(readonly url: string) {}
  send(data: string): void {
    this.sent.push(data)
  }
  close(code?: number, reason?: string): void {
    this.closed.push([code, reason])
    this.readyState = 3
  }
  open(): void {
    this.readyState = 1
    this.onopen?.(new Event('open'))
  }
  receive(data: unknown): void {
    this.onmessage?.(new MessageEvent('message', { data: typeof data === 'string' ? data : JSON.stringify(data) }))
  }
  drop(code = 1006): void {
    this.readyState = 3
    this.onclose?.(new CloseEvent('close', { code }))
  }
}

function setup() {
  const sockets: FakeSocket[] = []
  const events: string[] = []
  const frames: unknown[] = []
  const handlers: ChatSocketHandlers = {
    frame: (f) => frames.push(f),
    status: (s) => events.push(`status:${s}`),
    disconnected: () => events.push('disconnected'),
    unauthorized: () => events.push('unauthorized'),
  }
  const client = new ChatSocket('ws://h/api/chat/ws', handlers, {
    factory: (url) => {
      const s = new FakeSocket(url)
      sockets.push(s)
      return s
    },
    baseDelayMs: 100,
    maxDelayMs: 1000,
    pingIntervalMs: 5000,
    random: () => 1,
  })
  return { client, sockets, events, frames }
}

describe('parseFrame', () => {
  it('accepts every bot frame of the protocol', () => {
    expect(parseFrame('{"type":"start","id":"a","conversation_id":"c","title":"T","model":"m","demo":true}')).toEqual({
      type: 'start', id: 'a', conversation_id: 'c', title: 'T', model: 'm', demo: true,
    })
    expect(parseFrame('{"type":"delta","id":"a","text":"hi"}')).toEqual({ type: 'delta', id: 'a', text: 'hi' })
    expect(parseFrame('{"type":"reasoning","id":"a","text":"hm"}')).toEqual({ type: 'reasoning', id: 'a', text: 'hm' })
    expect(
      parseFrame('{"type":"done","id":"a","conversation_id":"c","finish_reason":"cancelled","usage":{"prompt_tokens":3,"completion_tokens":4}}'),
    ).toEqual({
      type: 'done', id: 'a', conversation_id: 'c', finish_reason: 'cancelled', usage: { prompt_tokens: 3, completion_tokens: 4 },
    })
    expect(parseFrame('{"type":"done","id":"a","conversation_id":"c","finish_reason":"stop","usage":null}')).toMatchObject({ usage: null })
    expect(parseFrame('{"type":"error","id":null,"code":"bad_frame","message":"no"}')).toEqual({
      type: 'error', id: null, code: 'bad_frame', message: 'no',
    })
    expect(parseFrame('{"type":"pong"}')).toEqual({ type: 'pong' })
  })

  it.each([
    'not json',
    '[]',
    'null',
    '"delta"',
    '{"type":"unknown","id":"a"}',
    '{"type":"delta","id":"a"}',
    '{"type":"delta","id":1,"text":"x"}',
    '{"type":"delta","text":"x"}',
    '{"type":"start","id":"a"}',
    '{"type":"done"}',
  ])('rejects %j', (raw) => {
    expect(parseFrame(raw)).toBeNull()
  })

  it('rejects binary data', () => {
    expect(parseFrame(new ArrayBuffer(2))).toBeNull()
  })

  it('treats a non-boolean demo as false', () => {
    expect(parseFrame('{"type":"start","id":"a","conversation_id":"c","demo":"yes"}')).toMatchObject({ demo: false })
  })
})

describe('chatSocketUrl', () => {
  it('follows the page scheme', () => {
    expect(chatSocketUrl({ protocol: 'http:', host: '127.0.0.1:8080' })).toBe('ws://127.0.0.1:8080/api/chat/ws')
    expect(chatSocketUrl({ protocol: 'https:', host: 'chat.example' })).toBe('wss://chat.example/api/chat/ws')
  })
})

describe('ChatSocket', () => {
  beforeEach(() => {
    vi.useFakeTimers()
  })
  afterEach(() => {
    vi.useRealTimers()
  })

  it('delivers valid frames and drops malformed ones', () => {
    const { client, sockets, frames, events } = setup()
    client.connect()
    sockets[0]!.open()
    expect(events).toEqual(['status:connecting', 'status:open'])
    sockets[0]!.receive({ type: 'delta', id: 'a', text: 'x' })
    sockets[0]!.receive('garbage')
    sockets[0]!.receive({ type: 'pong' })
    expect(frames).toEqual([{ type: 'delta', id: 'a', text: 'x' }, { type: 'pong' }])
  })

  it('sends JSON frames only while open', () => {
    const { client, sockets } = setup()
    client.connect()
    expect(client.send({ type: 'stop' })).toBe(false)
    sockets[0]!.open()
    expect(client.send({ type: 'send', id: 'i', conversation_id: null, text: 'hi' })).toBe(true)
    expect(client.send({ type: 'stop' })).toBe(true)
    expect(sockets[0]!.sent.map((s) => JSON.parse(s))).toEqual([
      { type: 'send', id: 'i', conversation_id: null, text: 'hi' },
      { type: 'stop' },
    ])
  })

  it('pings while open', () => {
    const { client, sockets } = setup()
    client.connect()
    sockets[0]!.open()
    vi.advanceTimersByTime(5000)
    expect(sockets[0]!.sent).toEqual(['{"type":"ping"}'])
    sockets[0]!.drop()
    vi.advanceTimersByTime(20000)
    expect(sockets[0]!.sent).toHaveLength(1)
  })

  it('reconnects with doubling, capped backoff and resets after a success', () => {
    const { client, sockets, events } = setup()
    expect([0, 1, 2, 3, 4, 10].map((n) => client.backoffDelay(n))).toEqual([100, 200, 400, 800, 1000, 1000])
    client.connect()
    sockets[0]!.drop()
    expect(events).toContain('disconnected')
    vi.advanceTimersByTime(99)
    expect(sockets).toHaveLength(1)
    vi.advanceTimersByTime(1)
    expect(sockets).toHaveLength(2)
    sockets[1]!.drop()
    vi.advanceTimersByTime(199)
    expect(sockets).toHaveLength(2)
    vi.advanceTimersByTime(1)
    expect(sockets).toHaveLength(3)
    sockets[2]!.open()
    sockets[2]!.drop()
    vi.advanceTimersByTime(100)
    expect(sockets).toHaveLength(4)
  })

  it('jitters the delay between half and full', () => {
    const client = new ChatSocket('ws://x', { frame() {}, status() {}, disconnected() {}, unauthorized() {} }, {
      baseDelayMs: 1000,
      random: () => 0,
    })
    expect(client.backoffDelay(0)).toBe(500)
  })

  it('stops on close code 4401 and reports it', () => {
    const { client, sockets, events } = setup()
    client.connect()
    sockets[0]!.drop(4401)
    expect(events).toContain('unauthorized')
    vi.advanceTimersByTime(60000)
    expect(sockets).toHaveLength(1)
  })

  it('does not reconnect after close()', () => {
    const { client, sockets } = setup()
    client.connect()
    sockets[0]!.open()
    client.close()
    expect(sockets[0]!.closed).toEqual([[1000, 'bye']])
    vi.advanceTimersByTime(60000)
    expect(sockets).toHaveLength(1)
    expect(client.isOpen).toBe(false)
  })

  it('reconnects at once when asked', () => {
    const { client, sockets } = setup()
    client.connect()
    sockets[0]!.drop()
    client.reconnectNow()
    expect(sockets).toHaveLength(2)
  })
})
