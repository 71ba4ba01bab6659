import { afterEach, describe, expect, it, vi } from 'vitest'
import { api, ApiError, readCookie } from '../src/lib/api'

describe('readCookie', () => {
  it('finds a cookie among others', () => {
    expect(readCookie('freechat_csrf', 'a=1; freechat_csrf=tok%2Fen; b=2')).toBe('tok/en')
    expect(readCookie('freechat_csrf', 'xfreechat_csrf=no')).toBeNull()
    expect(readCookie('freechat_csrf', '')).toBeNull()
  })
})

describe('request', () => {
  afterEach(() => {
    vi.unstubAllGlobals()
    document.cookie = 'freechat_csrf=; expires=Thu, 01 Jan 1970 00:00:00 GMT'
  })

  function stubFetch(status: number, body: unknown) {
    const calls: Array<[string, RequestInit]> = []
    vi.stubGlobal('fetch', async (url: string, init: RequestInit) => {
      calls.push([url, init])
      return new Response(status === 204 ? null : JSON.stringify(body), { status })
    })
    return calls
  }

  it('sends the CSRF token on state-changing requests only', async () => {
    document.cookie = 'freechat_csrf=abc123'
    const calls = stubFetch(204, null)
    await api.deleteConversation('c/1')
    await api.logout()
    const get = stubFetch(200, { items: [] })
    await api.conversations()
    expect(calls[0]![0]).toBe('/api/conversations/c%2F1')
    expect(calls[0]![1]).toMatchObject({ method: 'DELETE', credentials: 'same-origin' })
    expect((calls[0]![1].headers as Record<string, string>)['X-CSRF-Token']).toBe('abc123')
    expect((calls[1]![1].headers as Record<string, string>)['X-CSRF-Token']).toBe('abc123')
    expect((get[0]![1].headers as Record<string, string>)['X-CSRF-Token']).toBeUndefined()
    expect(get[0]![1]).toMatchObject({ method: 'GET', credentials: 'same-origin' })
  })

  it('posts JSON and raises ApiError with the detail', async () => {
    const calls = stubFetch(401, { detail: 'bad credentials' })
    const err = await api.login('u', 'p').catch((e: unknown) => e)
    expect(err).toBeInstanceOf(ApiError)
    expect(err).toMatchObject({ status: 401, detail: 'bad credentials' })
    expect(JSON.parse(calls[0]![1].body as string)).toEqual({ username: 'u', password: 'p' })
  })
})
