"""Keeping evaluated items out of training data.

A training example is *contaminated* by an evaluated item when, with both
normalised (lower case, words only, so punctuation, line breaks and answer-option
layout do not count), the example contains a run of ``NGRAM`` consecutive words of
the item's text, or the whole text of an item shorter than that. Items under
``MIN_WORDS`` words ("Paris?") are too short to identify anything and are not
checked; :attr:`EvaluatedTexts.unchecked` counts them. 13 words is the overlap rule
GPT-3's decontamination used (Brown et al. 2020, appendix C): long enough that
shared boilerplate ("which of the following is") never matches, short enough that a
question rewritten around its core still does.

This is a public helper module (``harness.helpers.EvaluatedTexts``): mixers import it.
"""

from __future__ import annotations

import re
from typing import Iterable

from harness.records import Example

NGRAM = 13
MIN_WORDS = 8

_WORD = re.compile(r"\w+")


def words(text: str) -> list[str]:
    """The normalised words of ``text``: lower case, punctuation and spacing dropped."""
    return _WORD.findall(text.lower())


def example_text(example: Example) -> str:
    """Everything a training example shows the model: its text, or every turn's content."""
    return example.text if example.text is not None else "\n".join(m.content for m in example.messages)


class EvaluatedTexts:
    """The texts of every item a run may evaluate, indexed for :meth:`contaminates`.

    Built once per run (the loop does it from each benchmark's ``item_details``);
    windows are stored as hashes, so a suite of tens of thousands of items stays small.
    """

    def __init__(self, texts: Iterable[str]) -> None:
        self.items = 0
        self.unchecked = 0
        # Window length -> hashes of the windows an example must not contain.
        self._windows: dict[int, set[int]] = {}
        # The first MIN_WORDS words of every window: one cheap test per position of an
        # example, so only the rare position that passes it is checked at every length.
        self._starts: set[int] = set()
        for text in texts:
            self.items += 1
            item = words(text)
            if len(item) < MIN_WORDS:
                self.unchecked += 1
                continue
            n = min(NGRAM, len(item))
            windows = self._windows.setdefault(n, set())
            for i in range(len(item) - n + 1):
                windows.add(hash(" ".join(item[i:i + n])))
                self._starts.add(hash(" ".join(item[i:i + MIN_WORDS])))
        self._seen: dict[Example, bool] = {}  # the loop mixes the same sources every round

    def contaminates(self, example: Example) -> bool:
        """True when ``example`` contains an evaluated item's text (see the module doc)."""
        if example not in self._seen:
            self._seen[example] = self._holds_a_window(words(example_text(example)))
        return self._seen[example]

    def _holds_a_window(self, text: list[str]) -> bool:
        for i in range(len(text) - MIN_WORDS + 1):
            if hash(" ".join(text[i:i + MIN_WORDS])) not in self._starts:
                continue
            if any(hash(" ".join(text[i:i + n])) in windows
                   for n, windows in self._windows.items() if i + n <= len(text)):
                return True
        return False

    def rule(self) -> str:
        """One line for manifests: what counted as contamination."""
        return (f"an example is dropped when it shares {NGRAM} consecutive words with an evaluated item's text, or "
                f"holds the whole text of a shorter item of at least {MIN_WORDS} words (lower case, words only)")
