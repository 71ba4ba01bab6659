import { describe, expect, it } from 'vitest'
import { splitThink, ThinkSplitter, type SplitPart } from '../src/lib/think'

function run(chunks: string[]): SplitPart & { thinkingAtEnd: boolean } {
  const s = new ThinkSplitter()
  const out = { content: '', reasoning: '' }
  for (const c of chunks) {
    const p = s.push(c)
    out.content += p.content
    out.reasoning += p.reasoning
  }
  const thinkingAtEnd = s.thinking
  const f = s.flush()
  return { content: out.content + f.content, reasoning: out.reasoning + f.reasoning, thinkingAtEnd }
}

/** Every way to cut `text` into two and three chunks. */
function* splits(text: string): Generator<string[]> {
  for (let i = 0; i <= text.length; i++) {
    yield [text.slice(0, i), text.slice(i)]
    for (let j = i; j <= text.length; j++) {
      yield [text.slice(0, i), text.slice(i, j), text.slice(j)]
    }
  }
}

const cases: Array<[string, string, string]> = [
  ['plain answer', 'plain answer', ''],
  ['<think>why</think>Answer', 'Answer', 'why'],
  ['a<think>b</think>c<think>d</think>e', 'ace', 'bd'],
  ['x < y and </think> stays', 'x < y and </think> stays', ''],
  ['<thin>not a tag', '<thin>not a tag', ''],
  ['<think>unterminated reasoning', '', 'unterminated reasoning'],
  ['ends with <thi', 'ends with <thi', ''],
  ['<think>a <b> </thin c</think>d', 'd', 'a <b> </thin c'],
  ['<<think>>x</think>', '<', '>x'],
]

describe('ThinkSplitter', () => {
  it.each(cases)('splits %j in one chunk', (text, content, reasoning) => {
    expect(splitThink(text)).toEqual({ content, reasoning })
  })

  it.each(cases)('gives the same result for %j cut at every position', (text, content, reasoning) => {
    for (const chunks of splits(text)) {
      const r = run(chunks)
      expect({ content: r.content, reasoning: r.reasoning }, JSON.stringify(chunks)).toEqual({ content, reasoning })
    }
  })

  it('handles one character at a time', () => {
    const text = 'Hi <think>step 1\nstep 2</think>\n\nThe answer is 42.'
    const r = run([...text])
    expect(r.reasoning).toBe('step 1\nstep 2')
    expect(r.content).toBe('Hi \n\nThe answer is 42.')
  })

  it('reports an unterminated block while streaming', () => {
    const s = new ThinkSplitter()
    expect(s.push('<think>pondering')).toEqual({ content: '', reasoning: 'pondering' })
    expect(s.thinking).toBe(true)
    expect(s.push(' more</thi')).toEqual({ content: '', reasoning: ' more' })
    expect(s.thinking).toBe(true)
    expect(s.push('nk>done')).toEqual({ content: 'done', reasoning: '' })
    expect(s.thinking).toBe(false)
  })

  it('holds back only a possible tag prefix', () => {
    const s = new ThinkSplitter()
    expect(s.push('a <')).toEqual({ content: 'a ', reasoning: '' })
    expect(s.push('b')).toEqual({ content: '<b', reasoning: '' })
    expect(s.push('<think')).toEqual({ content: '', reasoning: '' })
    expect(s.flush()).toEqual({ content: '<think', reasoning: '' })
  })
})
