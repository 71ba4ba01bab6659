/**
 * Splits `<think>...</think>` blocks out of streamed answer text.
 *
 * Reasoning models (DeepSeek-R1, QwQ, Qwen3) put their chain of thought inside
 * `<think>` tags in the ordinary content. The bot already moves most of it into
 * `reasoning` frames, but the UI must not rely on that: chunks may cut a tag at any
 * byte, and while streaming an opened block may not be closed yet. The splitter keeps
 * back only the shortest tail that could still become a tag, so text appears as soon
 * as it cannot be part of one.
 */

const OPEN = '<think>'
const CLOSE = '</think>'

export interface SplitPart {
  /** Text for the visible answer. */
  content: string
  /** Text for the collapsible thinking section. */
  reasoning: string
}

/** Length of the longest suffix of `text` that is a proper prefix of `tag`. */
function partialTagLength(text: string, tag: string): number {
  const max = Math.min(text.length, tag.length - 1)
  for (let n = max; n > 0; n--) {
    if (text.endsWith(tag.slice(0, n))) return n
  }
  return 0
}

export class ThinkSplitter {
  private pending = ''
  private inThink = false

  /** True while inside an opened, not yet closed `<think>` block. */
  get thinking(): boolean {
    return this.inThink
  }

  /** Feeds one chunk; returns the text that is now certain for each channel. */
  push(chunk: string): SplitPart {
    const out: SplitPart = { content: '', reasoning: '' }
    let text = this.pending + chunk
    this.pending = ''
    for (;;) {
      const tag = this.inThink ? CLOSE : OPEN
      const at = text.indexOf(tag)
      if (at < 0) {
        const keep = partialTagLength(text, tag)
        this.emit(out, text.slice(0, text.length - keep))
        this.pending = text.slice(text.length - keep)
        return out
      }
      this.emit(out, text.slice(0, at))
      text = text.slice(at + tag.length)
      this.inThink = !this.inThink
    }
  }

  /** Ends the stream: a held-back partial tag is plain text after all. */
  flush(): SplitPart {
    const out: SplitPart = { content: '', reasoning: '' }
    this.emit(out, this.pending)
    this.pending = ''
    return out
  }

  private emit(out: SplitPart, text: string): void {
    if (!text) return
    if (this.inThink) out.reasoning += text
    else out.content += text
  }
}

/** Splits a complete text (a stored message) in one go. */
export function splitThink(text: string): SplitPart {
  const splitter = new ThinkSplitter()
  const a = splitter.push(text)
  const b = splitter.flush()
  return { content: a.content + b.content, reasoning: a.reasoning + b.reasoning }
}
