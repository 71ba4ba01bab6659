import { describe, expect, it } from 'vitest'
import { changeBody, editText, parseEdit, RESOURCES, showCell } from '../src/lib/admin'
import { groupSwitches, pinnedSpec, validScope, type Plugin } from '../src/lib/plugins'

describe('the plugins page', () => {
  it('installs only a PyPI name with one pinned version', () => {
    expect(pinnedSpec('nonebot-plugin-status==0.9.0')).toBe(true)
    expect(pinnedSpec(' nonebot_plugin_x==1.0rc1 ')).toBe(true)
    for (const bad of ['nonebot-plugin-status', 'x>=1.0', 'x==1,<2', 'https://e.invalid/x.whl',
      'git+https://e.invalid/x.git', './x', 'x @ https://e.invalid/x.zip', 'x==', '==1.0']) {
      expect(pinnedSpec(bad), bad).toBe(false)
    }
  })

  it('switches globally or for a group key', () => {
    expect(validScope('global')).toBe(true)
    expect(validScope('qq:12345')).toBe(true)
    expect(validScope('12345')).toBe(false)
    expect(validScope('')).toBe(false)
  })

  it('lists group switches in order', () => {
    const p = { groups: { 'qq:2': false, 'qq:1': true } } as unknown as Plugin
    expect(groupSwitches(p)).toEqual([['qq:1', true], ['qq:2', false]])
  })

  it('edits a group\'s switches on the groups page as name=on/off', () => {
    const groups = RESOURCES.find((r) => r.name === 'groups')!
    const column = groups.columns.find((c) => c.key === 'plugins')!
    expect(column.edit).toBe('switches')
    expect(showCell(column, { chat: true, keywords: false })).toBe('chat=on, keywords=off')
    expect(showCell(column, {})).toBe('—')
    expect(editText(column, { keywords: false })).toBe('keywords=off')
    const value = parseEdit(column, ' keywords = off，chat=on, bad, x=maybe, y=关 ', {})
    expect(value).toEqual({ keywords: false, chat: true, y: false })
    expect(changeBody(groups, {}, 'plugins', value)).toEqual({ plugins: value })
  })
})
