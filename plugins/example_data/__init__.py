"""Example data sets shipped with the harness (synthetic, educational)."""
