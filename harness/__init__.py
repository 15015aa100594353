"""harness: evaluation-first, plugin-based fine-tuning without catastrophic forgetting."""

from importlib import metadata

try:
    __version__ = metadata.version("forgetting-harness")
except metadata.PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0"
