"""Data: reading and validating sources, splitting, token lengths, chat templates."""
