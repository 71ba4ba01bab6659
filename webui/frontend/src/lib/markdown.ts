/**
 * Markdown to safe HTML for model output.
 *
 * Model text is untrusted (prompt injection can make it say anything), so three
 * layers stand between it and the DOM:
 *
 * 1. markdown-it with `html: false`: raw HTML in the text is escaped, never parsed;
 *    `validateLink` accepts only http, https and mailto URLs.
 * 2. Images are rendered as plain links: an auto-loading `<img>` pointing at an
 *    attacker's host would leak the conversation through its query string.
 * 3. DOMPurify on the result with an allow-list of tags and attributes, URIs limited
 *    to http/https/mailto, no SVG or MathML, and every link forced to
 *    `target="_blank" rel="noopener noreferrer nofollow"`.
 */
import DOMPurify from 'dompurify'
import hljs from 'highlight.js/lib/common'
import MarkdownIt from 'markdown-it'

const SAFE_URL = /^(?:https?:|mailto:)/i

const ALLOWED_TAGS = [
  'a', 'blockquote', 'br', 'code', 'del', 'em', 'h1', 'h2', 'h3', 'h4', 'h5', 'h6',
  'hr', 'li', 'ol', 'p', 'pre', 's', 'span', 'strong', 'sub', 'sup', 'table',
  'tbody', 'td', 'th', 'thead', 'tr', 'ul',
]
const ALLOWED_ATTR = ['href', 'title', 'class', 'start', 'target', 'rel']

function escapeHtml(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;')
}

function highlight(code: string, lang: string): string {
  const name = lang.trim().split(/\s+/)[0]?.toLowerCase() ?? ''
  const known = name !== '' && hljs.getLanguage(name) !== undefined
  let body: string
  try {
    body = known
      ? hljs.highlight(code, { language: name, ignoreIllegals: true }).value
      : escapeHtml(code)
  } catch {
    // A grammar that throws on odd input must not lose the code block.
    body = escapeHtml(code)
  }
  const cls = known ? ` language-${escapeHtml(name)}` : ''
  return `<pre class="code-block"><code class="hljs${cls}">${body}</code></pre>`
}

const md: MarkdownIt = new MarkdownIt({
  html: false,
  linkify: true,
  breaks: true,
  typographer: false,
  highlight,
})

md.validateLink = (url: string): boolean => SAFE_URL.test(url.trim())

md.renderer.rules.image = (tokens, idx) => {
  const token = tokens[idx]!
  const src = token.attrGet('src') ?? ''
  const alt = token.content || src
  return `<a href="${escapeHtml(src)}">${escapeHtml(alt)}</a>`
}

let purifier: ReturnType<typeof DOMPurify> | null = null

function getPurifier(): ReturnType<typeof DOMPurify> {
  if (purifier) return purifier
  // A private instance, so the link hook below does not leak to other users of
  // DOMPurify on the page.
  const instance = DOMPurify(window)
  instance.addHook('afterSanitizeAttributes', (node) => {
    if (node.nodeName !== 'A') return
    const href = node.getAttribute('href')
    if (href === null || !SAFE_URL.test(href.trim())) {
      node.removeAttribute('href')
    }
    node.setAttribute('target', '_blank')
    node.setAttribute('rel', 'noopener noreferrer nofollow')
  })
  purifier = instance
  return instance
}

/** Sanitises an HTML string with the chat allow-list. */
export function sanitizeHtml(html: string): string {
  return getPurifier().sanitize(html, {
    ALLOWED_TAGS,
    ALLOWED_ATTR,
    ALLOWED_URI_REGEXP: SAFE_URL,
    ALLOW_DATA_ATTR: false,
    ALLOW_ARIA_ATTR: false,
    USE_PROFILES: false,
    RETURN_TRUSTED_TYPE: false,
  }) as string
}

/** Renders untrusted Markdown to sanitised HTML. */
export function renderMarkdown(text: string): string {
  return sanitizeHtml(md.render(text))
}
