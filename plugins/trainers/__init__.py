"""Built-in plugin (being implemented)."""
