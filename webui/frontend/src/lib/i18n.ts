/**
 * A small own dictionary for English and Chinese. The language follows
 * `navigator.language` until the user picks one; the pick is kept in localStorage.
 */
import { ref } from 'vue'

export type Locale = 'en' | 'zh'

const en = {
  'app.name': 'FreeChat',
  'login.title': 'Sign in',
  'login.username': 'Username',
  'login.password': 'Password',
  'login.submit': 'Sign in',
  'login.failed': 'Wrong username or password.',
  'login.rateLimited': 'Too many attempts. Please wait a minute and try again.',
  'setup.required':
    'No administrator exists yet. Open the one-time setup link printed in the bot\'s log, or run `freechat user add NAME --admin` on the server.',
  'setup.title': 'Create the first administrator',
  'setup.hint': 'This one-time link creates the administrator account of this FreeChat.',
  'setup.confirm': 'Repeat password',
  'setup.mismatch': 'The passwords do not match.',
  'setup.short': 'Use at least 8 characters.',
  'setup.submit': 'Create administrator',
  'setup.failed': 'Setup failed: {detail}',
  'common.error': 'Something went wrong: {detail}',
  'common.retry': 'Retry',
  'chat.new': 'New chat',
  'chat.conversations': 'Conversations',
  'chat.empty': 'No conversations yet.',
  'chat.untitled': 'Untitled',
  'chat.delete': 'Delete conversation',
  'chat.deleteConfirm': 'Delete this conversation? This cannot be undone.',
  'chat.placeholder': 'Type a message…',
  'chat.inputHint': 'Enter to send, Shift+Enter for a new line, Esc to stop',
  'chat.send': 'Send',
  'chat.stop': 'Stop',
  'chat.welcome': 'How can I help you today?',
  'chat.thinking': 'Thinking…',
  'chat.thought': 'Thought process',
  'chat.demo': 'demo model',
  'chat.demoHint': 'Answers come from the built-in demo model, not a real LLM.',
  'chat.stopped': 'Stopped.',
  'chat.truncated': 'The answer was cut off at the length limit.',
  'chat.blocked': 'The answer was withheld by a content filter.',
  'chat.menu': 'Menu',
  'chat.logout': 'Sign out',
  'chat.you': 'You',
  'chat.assistant': 'Assistant',
  'chat.loading': 'Loading…',
  'chat.copy': 'Copy',
  'chat.copied': 'Copied',
  'conn.connecting': 'Connecting…',
  'conn.closed': 'Disconnected, reconnecting…',
  'theme.system': 'Theme: system',
  'theme.light': 'Theme: light',
  'theme.dark': 'Theme: dark',
  'lang.switch': '中文',
  'error.bad_frame': 'The bot could not read the request.',
  'error.too_long': 'The message is too long.',
  'error.busy': 'An answer is still being generated.',
  'error.not_found': 'Conversation not found.',
  'error.rate_limited': 'You are sending messages too fast. Please wait a moment.',
  'error.internal': 'The bot ran into an error.',
  'error.disconnected': 'The connection was lost before the answer finished.',
  'error.offline': 'Not connected to the bot yet. Please try again in a moment.',
  'error.load_failed': 'Could not load the conversation.',
  'error.unknown': 'Error',
}

type Key = keyof typeof en

const zh: Record<Key, string> = {
  'app.name': 'FreeChat',
  'login.title': '登录',
  'login.username': '用户名',
  'login.password': '密码',
  'login.submit': '登录',
  'login.failed': '用户名或密码错误。',
  'login.rateLimited': '尝试次数过多，请稍等一分钟再试。',
  'setup.required':
    '尚未创建管理员。请打开机器人日志中打印的一次性设置链接，或在服务器上运行 `freechat user add NAME --admin`。',
  'setup.title': '创建第一个管理员',
  'setup.hint': '此一次性链接用于创建本 FreeChat 的管理员账号。',
  'setup.confirm': '重复密码',
  'setup.mismatch': '两次输入的密码不一致。',
  'setup.short': '密码至少需要 8 个字符。',
  'setup.submit': '创建管理员',
  'setup.failed': '设置失败：{detail}',
  'common.error': '出错了：{detail}',
  'common.retry': '重试',
  'chat.new': '新对话',
  'chat.conversations': '对话',
  'chat.empty': '还没有对话。',
  'chat.untitled': '未命名',
  'chat.delete': '删除对话',
  'chat.deleteConfirm': '确定删除这个对话吗？此操作无法撤销。',
  'chat.placeholder': '输入消息…',
  'chat.inputHint': 'Enter 发送，Shift+Enter 换行，Esc 停止',
  'chat.send': '发送',
  'chat.stop': '停止',
  'chat.welcome': '今天有什么可以帮你？',
  'chat.thinking': '思考中…',
  'chat.thought': '思考过程',
  'chat.demo': '演示模型',
  'chat.demoHint': '回答来自内置的演示模型，而不是真实的大模型。',
  'chat.stopped': '已停止。',
  'chat.truncated': '回答达到长度上限，已被截断。',
  'chat.blocked': '回答已被内容过滤拦截。',
  'chat.menu': '菜单',
  'chat.logout': '退出登录',
  'chat.you': '你',
  'chat.assistant': '助手',
  'chat.loading': '加载中…',
  'chat.copy': '复制',
  'chat.copied': '已复制',
  'conn.connecting': '正在连接…',
  'conn.closed': '连接已断开，正在重连…',
  'theme.system': '主题：跟随系统',
  'theme.light': '主题：浅色',
  'theme.dark': '主题：深色',
  'lang.switch': 'English',
  'error.bad_frame': '机器人无法解析该请求。',
  'error.too_long': '消息太长了。',
  'error.busy': '上一条回答仍在生成中。',
  'error.not_found': '找不到该对话。',
  'error.rate_limited': '发送太快了，请稍等片刻。',
  'error.internal': '机器人出现错误。',
  'error.disconnected': '回答完成前连接已断开。',
  'error.offline': '尚未连接到机器人，请稍后再试。',
  'error.load_failed': '无法加载该对话。',
  'error.unknown': '错误',
}

const dictionaries: Record<Locale, Record<Key, string>> = { en, zh }
const STORAGE_KEY = 'freechat.lang'

function storedLocale(): Locale | null {
  try {
    const v = localStorage.getItem(STORAGE_KEY)
    return v === 'en' || v === 'zh' ? v : null
  } catch {
    return null
  }
}

export function detectLocale(languages: readonly string[] = navigator.languages ?? [navigator.language]): Locale {
  for (const lang of languages) {
    const l = lang.toLowerCase()
    if (l.startsWith('zh')) return 'zh'
    if (l.startsWith('en')) return 'en'
  }
  return 'en'
}

export const locale = ref<Locale>(storedLocale() ?? detectLocale())

export function setLocale(value: Locale): void {
  locale.value = value
  try {
    localStorage.setItem(STORAGE_KEY, value)
  } catch {
    // Private mode: the choice lasts for this page only.
  }
  document.documentElement.lang = value === 'zh' ? 'zh-CN' : 'en'
}

export function toggleLocale(): void {
  setLocale(locale.value === 'zh' ? 'en' : 'zh')
}

export function hasKey(key: string): key is Key {
  return key in en
}

export function t(key: Key, params: Record<string, string | number> = {}): string {
  const text = dictionaries[locale.value][key] ?? en[key]
  return text.replace(/\{(\w+)\}/g, (_, name: string) => String(params[name] ?? ''))
}
