"""Synthetic emergency-response domain data set (train) and held-out benchmark.

Regenerate with ``python plugins/example_data/emergency_response/generate.py``.
Importing this package is cheap: it only defines paths.
"""

import pathlib

DATA_DIR = pathlib.Path(__file__).parent
TRAIN_FILE = DATA_DIR / "train.jsonl"
BENCHMARK_FILE = DATA_DIR / "benchmark.jsonl"

__all__ = ["DATA_DIR", "TRAIN_FILE", "BENCHMARK_FILE"]
