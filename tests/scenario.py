"""A deterministic forgetting scenario for loop and report tests.

A test-only trainer damages a copy of the tiny model by an amount that shrinks
as the general share grows; a test-only general benchmark turns that damage
into exactly that much forgetting. So the controller's decisions are checked
exactly, while the real loop, run folder, mixer, statistics and policies run.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from harness import Benchmark, BenchmarkResult, ItemDetail, ItemScore, Trainer, TrainingRecord
from harness.hookspecs import hookimpl
from harness.plugins import load_harness
from harness.testing import chat_records, write_jsonl

N_ITEMS = 100


def subject_of(item_id: str) -> str:
    """The damage hits the lowest-numbered items, so "algebra" forgets most; "zoology" is too small to say."""
    index = int(item_id[1:])
    return "algebra" if index < 20 else "zoology" if index % 20 == 19 else "biology" if index % 2 else "chemistry"


def forgetting_for(share: float) -> float:
    """Percent of general items the damaged model gets wrong: 12% at 20%, 7% at 30%, 2% at 40%."""
    return max(0.0, 50 * (0.44 - share))


class DamageTrainer(Trainer):
    name = "test_damage"
    calls: list[int] = []
    crash_on_round: int | None = None

    def train(self, request):
        index = request.plan.index
        if DamageTrainer.crash_on_round == index:
            raise KeyboardInterrupt(f"simulated kill during round {index}")
        DamageTrainer.calls.append(index)
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        base = request.config.base_model
        model = AutoModelForCausalLM.from_pretrained(base)
        damage = forgetting_for(request.plan.general_share)
        with torch.no_grad():  # distinct weights per round, so no cached result can be reused
            model.lm_head.weight.add_(1e-3 * (index + damage))
        model.config.harness_test_damage = damage
        out = request.output_dir / "model"
        model.save_pretrained(out)
        AutoTokenizer.from_pretrained(base).save_pretrained(out)
        (request.output_dir / "metrics.jsonl").write_text('{"step": 1, "loss": 1.0}\n')
        return TrainingRecord(request.output_dir, out, False, request.output_dir / "metrics.jsonl",
                              1, 1.0, None, len(request.train), 0.1)


class DamageBenchmark(Benchmark):
    name = "test_general"
    role = "general"
    evaluations = 0

    def definition_fingerprint(self):
        return "test-general-v1"

    def item_ids(self):
        return [f"q{i}" for i in range(N_ITEMS)]

    def evaluate(self, model, *, items, batch_size):
        DamageBenchmark.evaluations += 1
        wrong = round(getattr(model.model.config, "harness_test_damage", 0.0) * N_ITEMS / 100)
        return BenchmarkResult(self.name, "acc", [ItemScore(i, 0.0 if int(i[1:]) < wrong else 1.0) for i in items])

    def item_details(self, items):
        return {i: ItemDetail(text=f"Question {i}?", group=subject_of(i), answer=f"answer {i}") for i in items}


class DomainBenchmark(Benchmark):
    name = "test_domain"
    role = "domain"

    def definition_fingerprint(self):
        return "test-domain-v1"

    def item_ids(self):
        return [f"d{i}" for i in range(100)]

    def evaluate(self, model, *, items, batch_size):
        trained = hasattr(model.model.config, "harness_test_damage")
        right = 80 if trained else 40
        return BenchmarkResult(self.name, "acc", [ItemScore(i, float(int(i[1:]) < right)) for i in items])


class ScenarioPlugin:
    @hookimpl
    def harness_register_trainers(self, register):
        register(DamageTrainer)

    @hookimpl
    def harness_register_benchmarks(self, register):
        register(DamageBenchmark)
        register(DomainBenchmark)


@pytest.fixture
def scenario(tmp_path, tiny_model_dir, monkeypatch):
    monkeypatch.setenv("HARNESS_CACHE", str(tmp_path / "cache"))
    DamageTrainer.calls = []
    DamageTrainer.crash_on_round = None
    DamageBenchmark.evaluations = 0
    write_jsonl(tmp_path / "domain.jsonl", chat_records(50, "fire"))
    write_jsonl(tmp_path / "general.jsonl", chat_records(200, "general knowledge", seed=3))

    def make(policy: str = "schedule") -> tuple[Path, object]:
        config = {
            "base_model": str(tiny_model_dir),
            "dtype": "float32",
            "trainer": "test_damage",
            "datasets": [{"path": "domain.jsonl"}],
            "benchmarks": {"suite": None, "general": ["test_general"], "domain": ["test_domain"], "limit": None},
            "forgetting": {"threshold": 5.0, "policy": "point", "bootstrap_samples": 200},
            "mitigation": {"mixer": "ratio", "general_data": [{"path": "general.jsonl"}],
                           "schedule": [0.2, 0.3, 0.4], "policy": policy, "max_rounds": 4},
            "reporters": [],
            "samples": {"domain": 1, "general": ["Say hello."], "max_new_tokens": 8},
        }
        path = tmp_path / f"{policy}.yml"
        path.write_text(yaml.safe_dump(config))
        return path, load_harness(extra_plugins=[ScenarioPlugin()])

    return make
