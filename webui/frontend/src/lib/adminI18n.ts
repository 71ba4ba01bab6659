/** The console's texts in English and Chinese (the language follows lib/i18n). */
import { locale } from './i18n'

const en: Record<string, string> = {
  'console': 'Console',
  'backToChat': 'Back to chat',
  'search': 'Search…',
  'add': 'Add',
  'delete': 'Delete',
  'deleteConfirm': 'Delete this entry? This cannot be undone.',
  'prev': 'Previous',
  'next': 'Next',
  'pageOf': '{from}–{to} of {total}',
  'saved': 'Saved.',
  'failed': 'Failed: {detail}',
  'empty': 'Nothing here yet.',
  'editHint': 'Click a highlighted cell to edit; Enter saves, Esc cancels.',
  'test.title': 'Test a text',
  'test.run': 'Test',
  'test.result': 'After the filter: {text}',
  'test.none': 'No listed word found.',
  'overview.traffic': 'Messages in the last 24 hours',
  'overview.in': 'From users',
  'overview.out': 'Answers',
  'overview.tokens': 'Tokens today',
  'overview.instances': 'Instances online',
  'overview.connections': 'Connections online',
  'overview.groups': 'Groups',
  'overview.inflight': 'Answering now',
  'logs.refresh': 'Refresh',
  'ilink.login': 'Log in personal WeChat (QR code)',
  'ilink.idle': '',
  'ilink.waiting': 'Scan the QR code with WeChat…',
  'ilink.scanned': 'Scanned: confirm in WeChat…',
  'ilink.confirmed': 'Logged in. Restart FreeChat to start answering.',
  'ilink.failed': 'Login failed:',
  'r.overview': 'Overview', 'r.groups': 'Groups', 'r.keywords': 'Keywords',
  'r.sensitive-words': 'Sensitive words', 'r.budgets': 'Budgets', 'r.personas': 'Personas',
  'r.bans': 'Bans', 'r.platform-users': 'Platform users', 'r.adapters': 'Adapters', 'r.providers': 'Providers', 'r.users': 'Users',
  'r.api-keys': 'API keys', 'r.audit': 'Audit log', 'r.logs': 'Logs',
}

const zh: Record<string, string> = {
  'console': '管理控制台',
  'backToChat': '返回聊天',
  'search': '搜索…',
  'add': '添加',
  'delete': '删除',
  'deleteConfirm': '确定删除这一项吗？此操作无法撤销。',
  'prev': '上一页',
  'next': '下一页',
  'pageOf': '第 {from}–{to} 条，共 {total} 条',
  'saved': '已保存。',
  'failed': '失败：{detail}',
  'empty': '暂无内容。',
  'editHint': '点击高亮的单元格即可编辑；回车保存，Esc 取消。',
  'test.title': '测试文本',
  'test.run': '测试',
  'test.result': '过滤后：{text}',
  'test.none': '未发现敏感词。',
  'overview.traffic': '最近 24 小时的消息',
  'overview.in': '用户消息',
  'overview.out': '机器人回复',
  'overview.tokens': '今日 Token',
  'overview.instances': '在线实例',
  'overview.connections': '在线连接',
  'overview.groups': '群聊',
  'overview.inflight': '正在回答',
  'logs.refresh': '刷新',
  'ilink.login': '登录个人微信（扫码）',
  'ilink.idle': '',
  'ilink.waiting': '请用微信扫描二维码…',
  'ilink.scanned': '已扫码，请在微信中确认…',
  'ilink.confirmed': '登录成功。重启 FreeChat 后开始回复。',
  'ilink.failed': '登录失败：',
  'r.overview': '概览', 'r.groups': '群设置', 'r.keywords': '关键词', 'r.sensitive-words': '敏感词',
  'r.budgets': '额度', 'r.personas': '人设', 'r.bans': '封禁', 'r.platform-users': '平台用户', 'r.adapters': '适配器',
  'r.providers': '模型服务', 'r.users': '用户', 'r.api-keys': 'API 密钥', 'r.audit': '审计日志',
  'r.logs': '日志',
}

export function ta(key: string, vars: Record<string, string | number> = {}): string {
  const dict = locale.value === 'zh' ? zh : en
  const text = dict[key] ?? en[key] ?? key
  return text.replace(/\{(\w+)\}/g, (_, name: string) => String(vars[name] ?? ''))
}

/** Every key exists in both languages (checked by the unit tests). */
export const dictionaries = { en, zh }
