import { describe, expect, it } from 'vitest'
import { canOpen, changeBody, getField, listPath, parseEdit, RESOURCES, showCell, showValue } from '../src/lib/admin'
import { dictionaries } from '../src/lib/adminI18n'
import { parseHash } from '../src/lib/route'

const byName = (name: string) => RESOURCES.find((r) => r.name === name)!

describe('the console', () => {
  it('shows operators only their resources', () => {
    expect(canOpen('admin', byName('users'))).toBe(true)
    expect(canOpen('operator', byName('users'))).toBe(false)
    expect(canOpen('operator', byName('audit'))).toBe(false)
    expect(canOpen('operator', byName('groups'))).toBe(true)
    expect(canOpen('user', byName('groups'))).toBe(false)
    expect(canOpen(undefined, byName('overview'))).toBe(false)
  })

  it('has every text in both languages, and a name for every resource', () => {
    expect(Object.keys(dictionaries.zh).sort()).toEqual(Object.keys(dictionaries.en).sort())
    for (const r of RESOURCES) expect(dictionaries.zh[`r.${r.name}`]).toBeTruthy()
  })

  it('edits a group setting as the whole settings object', () => {
    const row = { key: 'qq:1', settings: { wake: 'mention', prefixes: [] } }
    expect(changeBody(byName('groups'), row, 'settings.wake', 'all')).toEqual({
      settings: { wake: 'all', prefixes: [] },
    })
    expect(changeBody(byName('keywords'), { id: 1 }, 'reply', 'x')).toEqual({ reply: 'x' })
    expect(changeBody(byName('personas'), { name: 'cat', prompt: 'a' }, 'prompt', 'b')).toEqual({
      name: 'cat',
      prompt: 'b',
    })
  })

  it('turns typed text into values', () => {
    const col = (edit: 'text' | 'number' | 'bool') => ({ key: 'k', edit })
    expect(parseEdit(col('number'), ' 12 ', 1)).toBe(12)
    expect(parseEdit(col('number'), '', 1)).toBeNull()
    expect(parseEdit(col('bool'), 'true', false)).toBe(true)
    expect(parseEdit(col('text'), 'a, b，c', [])).toEqual(['a', 'b', 'c'])
    expect(parseEdit(col('text'), '', null)).toBeNull()
  })

  it('reads dotted fields and shows values', () => {
    expect(getField({ settings: { wake: 'all' } }, 'settings.wake')).toBe('all')
    expect(getField({ a: null }, 'a.b')).toBeUndefined()
    expect(showValue(null)).toBe('—')
    expect(showValue(['x', 'y'])).toBe('x, y')
  })

  it('builds list URLs with search and paging', () => {
    expect(listPath(byName('keywords'), 'hi there', 20, 20)).toBe(
      '/api/admin/keywords?q=hi+there&offset=20&limit=20',
    )
    expect(listPath(byName('providers'), '', 0, 20)).toBe('/api/admin/providers')
  })

  it('routes #/admin/<page> to the console', () => {
    expect(parseHash('#/admin/keywords')).toEqual({ name: 'admin', token: null, page: 'keywords' })
    expect(parseHash('#/admin')).toEqual({ name: 'admin', token: null, page: 'overview' })
    expect(parseHash('#/chat').name).toBe('home')
  })

  it('shows epoch seconds as a local time, other values as they are', () => {
    const at = 1796169981.5
    expect(showCell({ key: 'connected_at', epoch: true }, at)).toBe(new Date(at * 1000).toLocaleString())
    expect(showCell({ key: 'connected_at', epoch: true }, null)).toBe('—')
    expect(showCell({ key: 'connects' }, 3)).toBe('3')
  })
})
