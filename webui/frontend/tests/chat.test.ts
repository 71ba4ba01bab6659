import { describe, expect, it } from 'vitest'
import type { Conversation } from '../src/lib/api'
import { ChatStore } from '../src/lib/chat'
import type { ClientFrame, ServerFrame } from '../src/lib/socket'

function setup(open = true) {
  const sent: ClientFrame[] = []
  const conversations: Record<string, Conversation> = {
    c1: {
      id: 'c1',
      title: 'Old',
      messages: [
        { role: 'user', content: 'q', created_at: '2026-01-01T00:00:00Z', demo: false },
        { role: 'assistant', content: '<think>hmm</think>a', created_at: '2026-01-01T00:00:01Z', demo: true },
        { role: 'system', content: 'hidden', created_at: '2026-01-01T00:00:02Z', demo: false },
      ],
    },
  }
  const deleted: string[] = []
  const store = new ChatStore(
    { send: (f) => (open ? (sent.push(f), true) : false) },
    {
      conversations: async () => ({ items: [{ id: 'c1', title: 'Old', updated_at: '2026-01-01T00:00:00Z' }] }),
      conversation: async (id) => {
        const c = conversations[id]
        if (!c) throw new Error('404')
        return c
      },
      deleteConversation: async (id) => {
        deleted.push(id)
      },
    },
    () => new Date('2026-02-02T00:00:00Z'),
  )
  return { store, sent, deleted }
}

function lastSendId(sent: ClientFrame[]): string {
  const f = sent[sent.length - 1]
  if (!f || f.type !== 'send') throw new Error('no send frame')
  return f.id
}

describe('ChatStore frame handling', () => {
  it('streams an answer through start, delta, reasoning and done', () => {
    const { store, sent } = setup()
    expect(store.send('  hello  ')).toBe(true)
    const id = lastSendId(sent)
    expect(sent[0]).toEqual({ type: 'send', id, conversation_id: null, text: 'hello' })
    expect(store.state.busy).toBe(true)
    const [user, answer] = store.state.messages
    expect(user).toMatchObject({ role: 'user', content: 'hello' })
    expect(answer).toMatchObject({ role: 'assistant', content: '', streaming: true })

    const frames: ServerFrame[] = [
      { type: 'start', id, conversation_id: 'c9', title: 'Greeting', model: 'demo', demo: true },
      { type: 'reasoning', id, text: 'The user ' },
      { type: 'reasoning', id, text: 'greets.' },
      { type: 'delta', id, text: 'Hi' },
      { type: 'delta', id, text: ' there' },
    ]
    for (const f of frames) store.handleFrame(f)
    expect(store.state.currentId).toBe('c9')
    expect(store.state.conversations[0]).toEqual({ id: 'c9', title: 'Greeting', updated_at: '2026-02-02T00:00:00.000Z' })
    expect(answer).toMatchObject({ content: 'Hi there', reasoning: 'The user greets.', demo: true, streaming: true })

    store.handleFrame({ type: 'done', id, conversation_id: 'c9', finish_reason: 'stop', usage: null })
    expect(answer).toMatchObject({ streaming: false, finishReason: 'stop', error: null, thinking: false })
    expect(store.state.busy).toBe(false)
  })

  it('splits <think> out of delta text, also when unterminated', () => {
    const { store, sent } = setup()
    store.send('q')
    const id = lastSendId(sent)
    const answer = store.state.messages[1]!
    store.handleFrame({ type: 'delta', id, text: '<thi' })
    store.handleFrame({ type: 'delta', id, text: 'nk>let me see' })
    expect(answer).toMatchObject({ content: '', reasoning: 'let me see', thinking: true })
    store.handleFrame({ type: 'delta', id, text: '</think>Done.' })
    expect(answer).toMatchObject({ content: 'Done.', reasoning: 'let me see', thinking: false })
    store.handleFrame({ type: 'delta', id, text: ' <' })
    store.handleFrame({ type: 'done', id, conversation_id: 'c', finish_reason: 'length', usage: null })
    expect(answer.content).toBe('Done. <')
    expect(answer.finishReason).toBe('length')
  })

  it('ignores frames for other ids and pongs', () => {
    const { store, sent } = setup()
    store.send('q')
    const answer = store.state.messages[1]!
    store.handleFrame({ type: 'delta', id: 'other', text: 'x' })
    store.handleFrame({ type: 'done', id: 'other', conversation_id: 'c', finish_reason: 'stop', usage: null })
    store.handleFrame({ type: 'pong' })
    expect(answer.content).toBe('')
    expect(store.state.busy).toBe(true)
    expect(lastSendId(sent)).not.toBe('other')
  })

  it('shows an error frame for the message inline and frees the composer', () => {
    const { store, sent } = setup()
    store.send('q')
    const id = lastSendId(sent)
    store.handleFrame({ type: 'error', id, code: 'rate_limited', message: 'slow down' })
    const answer = store.state.messages[1]!
    expect(answer.error).toEqual({ code: 'rate_limited', message: 'slow down' })
    expect(answer.streaming).toBe(false)
    expect(store.state.busy).toBe(false)
  })

  it('shows an error frame without id as a notice', () => {
    const { store } = setup()
    store.handleFrame({ type: 'error', id: null, code: 'bad_frame', message: 'bad' })
    expect(store.state.notice).toEqual({ code: 'bad_frame', message: 'bad' })
  })

  it('sends stop only while an answer is in flight', () => {
    const { store, sent } = setup()
    expect(store.stop()).toBe(false)
    store.send('q')
    const id = lastSendId(sent)
    expect(store.stop()).toBe(true)
    expect(sent[sent.length - 1]).toEqual({ type: 'stop' })
    store.handleFrame({ type: 'done', id, conversation_id: 'c', finish_reason: 'cancelled', usage: null })
    expect(store.state.messages[1]!.finishReason).toBe('cancelled')
  })

  it('refuses to send while busy, when empty, too long or offline', () => {
    const { store, sent } = setup()
    expect(store.send('   ')).toBe(false)
    store.state.maxChars = 5
    expect(store.send('123456')).toBe(false)
    expect(store.state.notice?.code).toBe('too_long')
    expect(store.send('12345')).toBe(true)
    expect(store.send('again')).toBe(false)
    expect(sent).toHaveLength(1)
    const offline = setup(false)
    expect(offline.store.send('hi')).toBe(false)
    expect(offline.store.state.notice?.code).toBe('offline')
    expect(offline.store.state.messages).toHaveLength(0)
  })

  it('ends the answer when the socket drops', () => {
    const { store } = setup()
    store.send('q')
    store.disconnected()
    expect(store.state.messages[1]!.error?.code).toBe('disconnected')
    expect(store.state.busy).toBe(false)
  })

  it('continues a conversation with its id', async () => {
    const { store, sent } = setup()
    await store.openConversation('c1')
    store.send('next')
    expect(sent[0]).toMatchObject({ type: 'send', conversation_id: 'c1', text: 'next' })
  })

  it('loads a conversation, splitting stored <think> blocks', async () => {
    const { store } = setup()
    await store.refreshConversations()
    await store.openConversation('c1')
    expect(store.state.currentId).toBe('c1')
    expect(store.state.messages.map((m) => [m.role, m.content, m.reasoning, m.demo])).toEqual([
      ['user', 'q', '', false],
      ['assistant', 'a', 'hmm', true],
    ])
  })

  it('keeps streaming into the answer after switching away and back', async () => {
    const { store, sent } = setup()
    await store.openConversation('c1')
    store.send('more')
    const id = lastSendId(sent)
    store.handleFrame({ type: 'start', id, conversation_id: 'c1', title: 'Old', model: 'm', demo: false })
    store.newChat()
    store.handleFrame({ type: 'delta', id, text: 'abc' })
    expect(store.state.messages).toHaveLength(0)
    expect(store.state.currentId).toBeNull()
    await store.openConversation('c1')
    const last = store.state.messages[store.state.messages.length - 1]!
    expect(last).toMatchObject({ role: 'assistant', content: 'abc', streaming: true })
    store.handleFrame({ type: 'delta', id, text: 'd' })
    expect(last.content).toBe('abcd')
  })

  it('does not steal the current conversation when the answer started elsewhere', () => {
    const { store, sent } = setup()
    store.send('q')
    const id = lastSendId(sent)
    store.newChat()
    store.handleFrame({ type: 'start', id, conversation_id: 'c5', title: 'T', model: 'm', demo: false })
    expect(store.state.currentId).toBeNull()
    expect(store.state.conversations[0]?.id).toBe('c5')
  })

  it('deletes a conversation and leaves it if it was open', async () => {
    const { store, deleted } = setup()
    await store.refreshConversations()
    await store.openConversation('c1')
    await store.deleteConversation('c1')
    expect(deleted).toEqual(['c1'])
    expect(store.state.conversations).toEqual([])
    expect(store.state.currentId).toBeNull()
    expect(store.state.messages).toEqual([])
  })

  it('reports a failed load', async () => {
    const { store } = setup()
    await expect(store.openConversation('missing')).rejects.toThrow('404')
    expect(store.state.notice?.code).toBe('load_failed')
    expect(store.state.loading).toBe(false)
  })
})
