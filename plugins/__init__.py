"""FreeChat's built-in NoneBot plugins."""
