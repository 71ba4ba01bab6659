"""The agreed ``order`` of the built-in middleware (lower runs first, outermost).

Output wrappers are applied on the way out, so an outer middleware sees what the
inner ones produced: history (300) saves the answer *after* the sensitive-word filter
(400) masked it, and the budget (600) counts the model's raw tokens.
"""

ACCESS = 100  # bans, plugin switches
RATE_LIMIT = 200
GROUPS = 250  # per-group persona, model, history mode and rate limit (bot.groups)
HISTORY = 300  # loads ctx.history; saves the filtered answer
SENSITIVE_WORDS = 400  # blocks/masks input; filters the streamed output
KEYWORDS = 500  # fixed replies stop the chain
TOKEN_BUDGET = 600  # trims ctx.history to the context window; reserve/settle
