"""Stage progress bars: the few bars a user follows during a run.

A run has one bar per stage (base evaluation, self-rehearsal, training, each
round's evaluation). While a run sends the libraries' output to its log file
(:func:`harness.loop.console.libraries_to_file` redirects ``sys.stderr``, where
tqdm draws by default), every inner bar, lm-eval's and ours alike, lands there;
a stage bar keeps drawing on the console the run started with.
"""

from __future__ import annotations

import contextlib
import sys
from typing import IO, Any, Iterator

_console: IO[str] | None = None  # the console while stderr is redirected; None: stderr itself


def stage_bar(desc: str, *, total: int | None = None, unit: str = "it", **kwargs: Any):
    """A tqdm bar for one stage of a run, drawn on the console."""
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit=unit, file=_console or sys.stderr, dynamic_ncols=True, **kwargs)


def say(message: str) -> None:
    """Print one of harness's own lines on stdout without tearing a stage bar drawn on the console."""
    from tqdm import tqdm

    bars = [bar for bar in list(getattr(tqdm, "_instances", ())) if not bar.disable]
    for bar in bars:
        bar.clear()
    print(message, flush=True)
    for bar in bars:
        bar.refresh()


@contextlib.contextmanager
def console_kept(stream: IO[str]) -> Iterator[None]:
    """Within the block, stage bars draw on ``stream`` whatever ``sys.stderr`` is."""
    global _console
    saved, _console = _console, stream
    try:
        yield
    finally:
        _console = saved
