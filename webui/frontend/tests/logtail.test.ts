import { describe, expect, it } from 'vitest'
import { appendLines, logSocketUrl, parseLogFrame } from '../src/lib/logtail'

describe('the live log', () => {
  it('connects on the page\'s own host, wss under https', () => {
    expect(logSocketUrl({ protocol: 'https:', host: 'bot.example' }, 300)).toBe(
      'wss://bot.example/api/admin/logs/ws?lines=300',
    )
    expect(logSocketUrl({ protocol: 'http:', host: '127.0.0.1:8080' }, 5)).toBe(
      'ws://127.0.0.1:8080/api/admin/logs/ws?lines=5',
    )
  })

  it('takes only well-formed frames', () => {
    expect(parseLogFrame('{"lines": ["a"], "dropped": 2}')).toEqual({ lines: ['a'], dropped: 2 })
    expect(parseLogFrame('{"lines": ["a"]}')).toEqual({ lines: ['a'], dropped: 0 })
    expect(parseLogFrame('{"lines": [1]}')).toBeNull()
    expect(parseLogFrame('not json')).toBeNull()
    expect(parseLogFrame('null')).toBeNull()
    expect(parseLogFrame(new ArrayBuffer(2))).toBeNull()
  })

  it('keeps the newest lines and marks missed ones', () => {
    expect(appendLines(['a'], { lines: ['b', 'c'] }, 'gap', 2)).toEqual(['b', 'c'])
    expect(appendLines(['a'], { lines: ['b'], dropped: 3 }, 'gap')).toEqual(['a', 'gap', 'b'])
  })
})
