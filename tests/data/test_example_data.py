"""The example domain data set: its held-out questions test what training teaches, and are never trained on."""

from __future__ import annotations

import json
import re

from harness_plugins.example_data.emergency_response import BENCHMARK_FILE, TRAIN_FILE
from harness_plugins.example_data.emergency_response.facts import facts_by_id


def words(text: str) -> list[str]:
    return re.sub(r"[^a-z0-9 ]", " ", text.lower()).split()


def ngrams(text: str, n: int = 8) -> set[tuple[str, ...]]:
    w = words(text)
    return {tuple(w[i:i + n]) for i in range(len(w) - n + 1)}


def read(path):
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def test_held_out_questions_share_no_eight_word_run_with_any_training_text():
    trained = set().union(*(ngrams(m["content"]) for c in read(TRAIN_FILE) for m in c["messages"]))
    leaked = [q["id"] for q in read(BENCHMARK_FILE) if ngrams(q["question"]) & trained]
    assert not leaked, leaked


def test_every_held_out_question_tests_a_fact_the_training_data_teaches():
    answers = [m["content"] for c in read(TRAIN_FILE) for m in c["messages"] if m["role"] == "assistant"]
    facts = facts_by_id()
    untaught = [q["id"] for q in read(BENCHMARK_FILE) if not any(facts[q["fact_id"]].answer in a for a in answers)]
    assert not untaught, untaught
