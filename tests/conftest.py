"""Shared fixtures: harness.testing is the same tooling a plugin author uses."""

import os

# The hub is unreachable on build machines; fail fast instead of retrying.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

pytest_plugins = ["harness.testing"]
