"""A legible console: harness's own lines and stage bars on screen, the libraries' output in a log file.

transformers, datasets, lm-eval, peft and accelerate each draw progress bars
("Loading weights", "Generating validation split", "Map", "Running loglikelihood
requests") and log warnings. During a run they go to ``logs/libraries.log`` in
the run folder, where they help a debugging session, instead of interleaving
with the stages a user follows: their loggers get the file as their handler and
``sys.stderr`` (where tqdm draws by default) is the file too, while harness's
stage bars (:mod:`harness.progress`) keep the console.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import warnings
from pathlib import Path
from typing import Iterator

from harness.progress import console_kept

LIBRARIES = ("transformers", "datasets", "lm_eval", "lm-eval", "peft", "accelerate", "huggingface_hub", "evaluate",
             "py.warnings", "torch")


@contextlib.contextmanager
def libraries_to_file(log_file: Path) -> Iterator[None]:
    """Within the block, library logs, warnings and progress bars are written to ``log_file`` only."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(log_file, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    saved = {}
    for name in LIBRARIES:
        logger = logging.getLogger(name)
        saved[name] = (logger.handlers[:], logger.propagate, logger.level)
        logger.handlers = [handler]
        logger.propagate = False
        logger.setLevel(logging.INFO)
    bars = _library_progress_bars(enabled=False)
    logging.captureWarnings(True)
    try:
        with warnings.catch_warnings(), console_kept(sys.stderr), \
                open(log_file, "a", encoding="utf-8", buffering=1) as stream, contextlib.redirect_stderr(stream):
            warnings.simplefilter("default")
            yield
    finally:
        logging.captureWarnings(False)
        _library_progress_bars(enabled=True, only=bars)
        for name, (handlers, propagate, level) in saved.items():
            logger = logging.getLogger(name)
            logger.handlers, logger.propagate = handlers, propagate
            logger.setLevel(level)
        handler.close()


def _library_progress_bars(*, enabled: bool, only: list[str] | None = None) -> list[str]:
    """Turn the libraries' own progress bars off or back on; returns the libraries switched."""
    switched = []
    if only is None or "transformers" in only:
        try:
            from transformers.utils import logging as hf_logging

            (hf_logging.enable_progress_bar if enabled else hf_logging.disable_progress_bar)()
            switched.append("transformers")
        except ImportError:
            pass
    if only is None or "datasets" in only:
        try:
            import datasets

            (datasets.enable_progress_bars if enabled else datasets.disable_progress_bars)()
            switched.append("datasets")
        except ImportError:
            pass
    return switched
