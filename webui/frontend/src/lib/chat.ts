/**
 * Chat state: the conversation list, the messages on screen and the answer in flight.
 *
 * Plain TypeScript over Vue's `reactive`, with the transport passed in, so the frame
 * handling is unit-tested without a browser. One answer at a time per socket (the
 * protocol's rule); the answer in flight keeps streaming into its message object even
 * when the user switches to another conversation, and reappears when they come back.
 */
import { reactive } from 'vue'
import type { Conversation, ConversationSummary } from './api'
import type { ClientFrame, ServerFrame, ConnectionStatus } from './socket'
import { splitThink, ThinkSplitter } from './think'

export interface ChatError {
  code: string
  message: string
}

export interface ChatMessage {
  key: string
  role: 'user' | 'assistant'
  content: string
  reasoning: string
  demo: boolean
  streaming: boolean
  /** Inside an unterminated `<think>` block or receiving reasoning frames. */
  thinking: boolean
  finishReason: string | null
  error: ChatError | null
}

export interface ChatTransport {
  send(frame: ClientFrame): boolean
}

export interface ChatBackend {
  conversations(): Promise<{ items: ConversationSummary[] }>
  conversation(id: string): Promise<Conversation>
  deleteConversation(id: string): Promise<void>
}

interface Pending {
  id: string
  conversationId: string | null
  user: ChatMessage
  answer: ChatMessage
  splitter: ThinkSplitter
}

export interface ChatState {
  conversations: ConversationSummary[]
  currentId: string | null
  messages: ChatMessage[]
  connection: ConnectionStatus
  /** An answer is in flight on this socket. */
  busy: boolean
  /** Errors not tied to a message (e.g. a refused frame with id null). */
  notice: ChatError | null
  loading: boolean
  maxChars: number
}

let keySeq = 0
function nextKey(): string {
  keySeq += 1
  return `m${keySeq}`
}

export function newClientId(): string {
  const c = globalThis.crypto
  if (c && typeof c.randomUUID === 'function') return c.randomUUID()
  return `c${Date.now().toString(36)}${Math.random().toString(36).slice(2, 10)}`
}

export function makeMessage(role: ChatMessage['role'], content = '', extra: Partial<ChatMessage> = {}): ChatMessage {
  return reactive<ChatMessage>({
    key: nextKey(),
    role,
    content,
    reasoning: '',
    demo: false,
    streaming: false,
    thinking: false,
    finishReason: null,
    error: null,
    ...extra,
  })
}

export class ChatStore {
  readonly state: ChatState = reactive<ChatState>({
    conversations: [],
    currentId: null,
    messages: [],
    connection: 'closed',
    busy: false,
    notice: null,
    loading: false,
    maxChars: 0,
  })

  private pending: Pending | null = null
  private loadSeq = 0

  constructor(
    private readonly transport: ChatTransport,
    private readonly backend: ChatBackend,
    private readonly now: () => Date = () => new Date(),
  ) {}

  async refreshConversations(): Promise<void> {
    const { items } = await this.backend.conversations()
    this.state.conversations = items
  }

  newChat(): void {
    this.loadSeq += 1
    this.state.currentId = null
    this.state.messages = []
    this.state.notice = null
    this.state.loading = false
  }

  async openConversation(id: string): Promise<void> {
    const seq = ++this.loadSeq
    this.state.currentId = id
    this.state.notice = null
    this.state.loading = true
    this.state.messages = []
    try {
      const conv = await this.backend.conversation(id)
      if (seq !== this.loadSeq) return
      const messages: ChatMessage[] = []
      for (const m of conv.messages) {
        if (m.role !== 'user' && m.role !== 'assistant') continue
        if (m.role === 'assistant') {
          const parts = splitThink(m.content)
          messages.push(makeMessage('assistant', parts.content, { reasoning: parts.reasoning, demo: m.demo }))
        } else {
          messages.push(makeMessage('user', m.content))
        }
      }
      const p = this.pending
      if (p && p.conversationId === id) {
        // The history may already hold the user's message of the answer in flight.
        const last = messages[messages.length - 1]
        if (!(last && last.role === 'user' && last.content === p.user.content)) messages.push(p.user)
        else messages[messages.length - 1] = p.user
        messages.push(p.answer)
      }
      this.state.messages = messages
    } catch (err) {
      if (seq !== this.loadSeq) return
      this.state.notice = { code: 'load_failed', message: err instanceof Error ? err.message : String(err) }
      throw err
    } finally {
      if (seq === this.loadSeq) this.state.loading = false
    }
  }

  async deleteConversation(id: string): Promise<void> {
    await this.backend.deleteConversation(id)
    this.state.conversations = this.state.conversations.filter((c) => c.id !== id)
    if (this.state.currentId === id) this.newChat()
  }

  /** Sends a user message; returns false (and explains in `notice`) when it cannot. */
  send(text: string): boolean {
    const body = text.trim()
    if (!body || this.state.busy) return false
    if (this.state.maxChars > 0 && body.length > this.state.maxChars) {
      this.state.notice = { code: 'too_long', message: '' }
      return false
    }
    const id = newClientId()
    const frame: ClientFrame = { type: 'send', id, conversation_id: this.state.currentId, text: body }
    if (!this.transport.send(frame)) {
      this.state.notice = { code: 'offline', message: '' }
      return false
    }
    const user = makeMessage('user', body)
    const answer = makeMessage('assistant', '', { streaming: true })
    this.state.messages.push(user, answer)
    // Keep the reactive proxies so later updates show up on screen.
    const n = this.state.messages.length
    this.pending = {
      id,
      conversationId: this.state.currentId,
      user: this.state.messages[n - 2]!,
      answer: this.state.messages[n - 1]!,
      splitter: new ThinkSplitter(),
    }
    this.state.busy = true
    this.state.notice = null
    return true
  }

  stop(): boolean {
    if (!this.pending) return false
    return this.transport.send({ type: 'stop' })
  }

  setConnection(status: ConnectionStatus): void {
    this.state.connection = status
  }

  /** The socket dropped: an answer in flight cannot finish on a new socket. */
  disconnected(): void {
    const p = this.pending
    if (!p) return
    this.finish(p, 'error', { code: 'disconnected', message: '' })
  }

  handleFrame(frame: ServerFrame): void {
    if (frame.type === 'pong') return
    const p = this.pending
    const mine = p !== null && frame.id === p.id
    switch (frame.type) {
      case 'start': {
        if (!mine) return
        p.answer.demo = frame.demo
        p.conversationId = frame.conversation_id
        if (this.state.currentId === null && this.state.messages.includes(p.answer)) {
          this.state.currentId = frame.conversation_id
        }
        this.touchConversation(frame.conversation_id, frame.title)
        return
      }
      case 'delta': {
        if (!mine) return
        const part = p.splitter.push(frame.text)
        if (part.reasoning) p.answer.reasoning += part.reasoning
        if (part.content) p.answer.content += part.content
        p.answer.thinking = p.splitter.thinking
        return
      }
      case 'reasoning': {
        if (!mine) return
        p.answer.reasoning += frame.text
        p.answer.thinking = p.answer.content === ''
        return
      }
      case 'done': {
        if (!mine) return
        if (frame.conversation_id) this.touchConversation(frame.conversation_id)
        this.finish(p, frame.finish_reason, null)
        return
      }
      case 'error': {
        const error = { code: frame.code, message: frame.message }
        if (mine) this.finish(p, 'error', error)
        else this.state.notice = error
        return
      }
    }
  }

  private finish(p: Pending, reason: string, error: ChatError | null): void {
    const rest = p.splitter.flush()
    if (rest.reasoning) p.answer.reasoning += rest.reasoning
    if (rest.content) p.answer.content += rest.content
    p.answer.streaming = false
    p.answer.thinking = false
    p.answer.finishReason = reason
    p.answer.error = error
    this.pending = null
    this.state.busy = false
  }

  private touchConversation(id: string, title?: string): void {
    const list = this.state.conversations
    const idx = list.findIndex((c) => c.id === id)
    const existing = idx >= 0 ? list[idx]! : null
    const item: ConversationSummary = {
      id,
      title: title || existing?.title || '',
      updated_at: this.now().toISOString(),
    }
    if (idx >= 0) list.splice(idx, 1)
    list.unshift(item)
  }
}
