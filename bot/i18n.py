"""What the bot says itself, in Chinese and English.

``t(key, locale, **values)`` looks a text up for the chat's locale (the ``locale``
setting: ``zh-CN`` by default, or ``en``) and fills in ``values``. The texts are
ours, never user input, so ``str.format`` only ever sees our own fields.
"""

from __future__ import annotations

from typing import Any

LOCALES = ("zh-CN", "en")
DEFAULT_LOCALE = "zh-CN"

TEXTS: dict[str, dict[str, str]] = {
    "denied": {
        "zh-CN": "抱歉，这个命令只有管理员可以使用。",
        "en": "Sorry, only admins can use that command.",
    },
    "usage": {"zh-CN": "用法：{usage}", "en": "Usage: {usage}"},
    "failed": {"zh-CN": "操作失败，请查看日志。", "en": "That failed, see the log."},
    "empty": {"zh-CN": "（无）", "en": "(none)"},
    "more": {"zh-CN": "……另有 {n} 条", "en": "... and {n} more"},
    "help_header": {
        "zh-CN": "可用命令：",
        "en": "Commands you can use:",
    },
    "help_member": {
        "zh-CN": "/help（/帮助、/menu）：本帮助\n/usage：我的今日/本月额度\n/reset：开始新的对话",
        "en": "/help (/帮助, /menu): this help\n/usage: your quota left today and this month\n/reset: start a new conversation",
    },
    "help_admin": {
        "zh-CN": (
            "/status：运行状态\n"
            "/ban list | /ban <平台:ID> [原因] | /unban <平台:ID>\n"
            "/word list [分类] | /word add|del <词> [分类]\n"
            "/keyword list | /keyword add <exact|contains|regex> <词> <回复> | /keyword del <编号>\n"
            "/budget show <平台:ID> | /budget <user|group> <平台:ID> <日额度|-> [月额度|-]\n"
            "/usage [平台:ID]\n"
            "/group show | /group on|off | /group wake mention|all|prefix <前缀…>|nickname <名字…>|random <概率>\n"
            "/group persona <名称或提示词|reset> | /group model <模型|reset>"
        ),
        "en": (
            "/status: how the bot is doing\n"
            "/ban list | /ban <platform:id> [reason] | /unban <platform:id>\n"
            "/word list [category] | /word add|del <word> [category]\n"
            "/keyword list | /keyword add <exact|contains|regex> <pattern> <reply> | /keyword del <id>\n"
            "/budget show <platform:id> | /budget <user|group> <platform:id> <daily|-> [monthly|-]\n"
            "/usage [platform:id]\n"
            "/group show | /group on|off | /group wake mention|all|prefix <prefixes...>|nickname <names...>|random <probability>\n"
            "/group persona <name or prompt|reset> | /group model <model|reset>"
        ),
    },
    "help_group_admin": {
        "zh-CN": (
            "/status：运行状态\n"
            "/group show | /group on|off | /group wake mention|all|prefix <前缀…>|nickname <名字…>|random <概率>\n"
            "/group persona <名称或提示词|reset> | /group model <模型|reset> | /group history group|user"
        ),
        "en": (
            "/status: how the bot is doing\n"
            "/group show | /group on|off | /group wake mention|all|prefix <prefixes...>|nickname <names...>|random <probability>\n"
            "/group persona <name or prompt|reset> | /group model <model|reset> | /group history group|user"
        ),
    },
    "banned": {"zh-CN": "已封禁 {key}。", "en": "Banned {key}."},
    "unbanned": {"zh-CN": "已解封 {key}。", "en": "Unbanned {key}."},
    "not_banned": {"zh-CN": "{key} 没有被封禁。", "en": "{key} was not banned."},
    "budget_set": {
        "zh-CN": "{kind} {key} 的额度：每日 {daily}，每月 {monthly}。",
        "en": "Budget of {kind} {key}: daily {daily}, monthly {monthly}.",
    },
    "word_added": {
        "zh-CN": "已在 {category} 中添加一个词。",
        "en": "Added a word in {category}.",
    },
    "word_removed": {
        "zh-CN": "已从 {category} 中删除一个词。",
        "en": "Removed a word in {category}.",
    },
    "rule_added": {"zh-CN": "已添加规则 {id}。", "en": "Added rule {id}."},
    "rule_removed": {"zh-CN": "已删除规则 {id}。", "en": "Removed rule {id}."},
    "no_rule": {"zh-CN": "没有这条规则。", "en": "No such rule."},
    "rejected": {"zh-CN": "已拒绝：{problem}", "en": "Rejected: {problem}"},
    "ban_list": {"zh-CN": "封禁列表（{n}）：", "en": "Banned ({n}):"},
    "word_list": {"zh-CN": "敏感词（{n}）：", "en": "Sensitive words ({n}):"},
    "keyword_list": {"zh-CN": "关键词规则（{n}）：", "en": "Keyword rules ({n}):"},
    "keyword_line": {
        "zh-CN": "#{id} [{match}] {pattern} → {reply}（命中 {hits} 次）",
        "en": "#{id} [{match}] {pattern} -> {reply} ({hits} hits)",
    },
    "budget_show": {
        "zh-CN": "{key} 的额度：今日 {day_used}/{day_limit}，本月 {month_used}/{month_limit}",
        "en": "Quota of {key}: today {day_used}/{day_limit}, this month {month_used}/{month_limit}",
    },
    "unlimited": {"zh-CN": "不限", "en": "unlimited"},
    "no_budget": {
        "zh-CN": "额度插件未启用。",
        "en": "The token budget plugin is not enabled.",
    },
    "group_only": {
        "zh-CN": "这个命令只能在群里使用。",
        "en": "That command only works in a group.",
    },
    "group_show": {
        "zh-CN": "本群设置：{enabled}，唤醒方式 {wake}{extra}，人设 {persona}，模型 {model}，历史 {history}",
        "en": "This group: {enabled}, wake {wake}{extra}, persona {persona}, model {model}, history {history}",
    },
    "on": {"zh-CN": "已开启", "en": "on"},
    "off": {"zh-CN": "已关闭", "en": "off"},
    "default": {"zh-CN": "默认", "en": "default"},
    "group_saved": {"zh-CN": "已保存本群设置。", "en": "Group settings saved."},
    "group_rate_limited": {
        "zh-CN": "本群消息太多了，请稍后再试。",
        "en": "This group is sending too many messages, please try again shortly.",
    },
    "status": {
        "zh-CN": "FreeChat {version}：已运行 {uptime}，实例 {instance}，处理中 {in_flight}，模型 {model}，数据库 {db}，共享状态 {state}",
        "en": "FreeChat {version}: up {uptime}, instance {instance}, in flight {in_flight}, model {model}, database {db}, shared state {state}",
    },
    "ok": {"zh-CN": "正常", "en": "ok"},
    "down": {"zh-CN": "异常", "en": "down"},
    "degraded": {"zh-CN": "降级（进程内）", "en": "degraded (in-process)"},
}


def normalize_locale(locale: str | None) -> str:
    if locale and locale.lower().startswith("en"):
        return "en"
    return DEFAULT_LOCALE


def t(text_id: str, locale: str | None = None, /, **values: Any) -> str:
    """The text ``text_id`` in ``locale`` with ``values`` filled in."""
    text = TEXTS[text_id][normalize_locale(locale)]
    return text.format(**values) if values else text
