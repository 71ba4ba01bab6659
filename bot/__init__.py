"""FreeChat kernel: settings, app bootstrap, chat context, middleware chain, delivery,
LLM client, registry, storage and shared state. Knows no platform."""

__version__ = "0.1.0"
