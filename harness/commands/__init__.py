"""One module per ``harness`` sub-command, each exposing ``register(subparsers)``."""
