"""Facts table for the synthetic emergency-response data set, read from ``facts.json``.

``facts.json`` is the single source of truth: ``generate.py`` builds both
``train.jsonl`` and ``benchmark.jsonl`` from it, so a fact is added or corrected
there and nowhere else. This module gives it types and checks its shape.

Each :class:`Fact` has

* ``id`` -- stable identifier, ``<topic prefix>-<nn>``;
* ``topic`` -- one of :data:`TOPICS`;
* ``answer`` -- the canonical answer, 1-4 sentences, in the commander's voice;
* ``asks`` -- paraphrase handles: ways a trainee asks about the fact. They
  become the user turns of ``train.jsonl``;
* ``probes`` -- held-out multiple-choice questions about the same fact, worded
  differently from every ``ask``. They become ``benchmark.jsonl`` and never
  appear in training data. Each has one correct choice and three distractors
  of similar length that an expert would reject.

Content rules: every statement must be correct and conservative. When in
doubt a fact is left out (``left_out`` in the file). The data is synthetic and
educational; it is not operational guidance.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

FACTS_FILE = Path(__file__).resolve().parent / "facts.json"


@dataclass(frozen=True)
class Probe:
    """A held-out multiple-choice question: one correct choice, three wrong."""

    question: str
    correct: str
    distractors: tuple[str, str, str]


@dataclass(frozen=True)
class Fact:
    id: str
    topic: str
    answer: str
    asks: tuple[str, ...]
    probes: tuple[Probe, ...]


def _load(path: Path = FACTS_FILE) -> dict:
    data = json.loads(path.read_text(encoding="utf-8"))
    for number, fact in enumerate(data["facts"]):
        if fact["topic"] not in data["topics"]:
            raise ValueError(f"{path}: fact {fact['id']} has unknown topic {fact['topic']!r}")
        for probe in fact["probes"]:
            if len(probe["distractors"]) != 3:
                raise ValueError(f"{path}: fact {fact['id']}: probe needs exactly 3 distractors: {probe['question']!r}")
    return data


_DATA = _load()
SYSTEM_PROMPT: str = _DATA["system_prompt"]
TOPICS: dict[str, str] = _DATA["topics"]
# Things deliberately not stated anywhere in the data set (the exact value varies by
# source, jurisdiction or edition), kept so nobody "adds them back" by accident.
LEFT_OUT: tuple[str, ...] = tuple(_DATA["left_out"])
FACTS: list[Fact] = [
    Fact(f["id"], f["topic"], f["answer"], tuple(f["asks"]),
         tuple(Probe(p["question"], p["correct"], tuple(p["distractors"])) for p in f["probes"]))  # type: ignore[arg-type]
    for f in _DATA["facts"]
]


def facts_by_id() -> dict[str, Fact]:
    return {f.id: f for f in FACTS}
