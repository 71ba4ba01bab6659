"""FreeChat's platform adapters: one package per platform."""
