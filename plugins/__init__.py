"""Built-in plugins of harness, each declared as an entry point in pyproject.toml."""
