"""The judging driver on synthetic benchmarks: chance-aware gating, chance-corrected forgetting, bad input."""

from __future__ import annotations

import pytest
import torch

from harness import Benchmark, BenchmarkResult, ItemScore, LoadedModel
from harness.evaluation.scoring import Scorer
from harness.evaluation.judging import JudgeSettings, judge


class Fixed(Benchmark):
    """A general benchmark whose outcomes per model are given: item i is right when i is in the model's set."""

    name = "fixed"
    chance = 0.25

    def __init__(self, name: str, n: int) -> None:
        super().__init__()
        self.name, self.n = name, n

    def definition_fingerprint(self) -> str:
        return f"fixed-{self.name}-{self.n}"

    def item_ids(self) -> list[str]:
        return [str(i) for i in range(self.n)]

    def evaluate(self, model, *, items, batch_size):
        right = model.model.right[self.name]
        return BenchmarkResult(self.name, "acc", [ItemScore(i, float(int(i) in right)) for i in items])


def model_with(right: dict[str, set[int]], seed: int) -> LoadedModel:
    module = torch.nn.Linear(2, 2)
    torch.nn.init.constant_(module.weight, float(seed))  # distinct weights, distinct cache keys
    module.right = right
    return LoadedModel(module, None, f"m{seed}", "", "cpu", "float32")


def scorers(base_right, cand_right):
    return (Scorer(model_with(base_right, 1), batch_size=1, cache=False),
            Scorer(model_with(cand_right, 2), batch_size=1, cache=False))


def test_a_benchmark_at_chance_is_uninformative_and_not_gated():
    # "easy": base 80% right, unchanged. "guess": base 26% on 4 choices (chance 25%), then worse.
    easy = {i for i in range(400) if i % 5}
    guess_base = {i for i in range(400) if i % 4 == 0} | {1}
    guess_cand = {i for i in range(400) if i % 8 == 0}
    benchmarks = [Fixed("easy", 400), Fixed("guess", 400)]
    base, cand = scorers({"easy": easy, "guess": guess_base}, {"easy": easy, "guess": guess_cand})
    result = judge(base, cand, benchmarks, [], JudgeSettings(first_look=50, max_items=400))
    guess = result.forgetting["guess"]
    assert guess.status == "uninformative" and "not significantly above chance 0.250" in guess.reason
    assert guess.n == 400  # the base's whole budget could not tell it from guessing
    assert guess.relative > 5  # it "forgot" a lot, and that must not fail the gate
    assert result.forgetting["easy"].status == "pass"
    assert result.verdict.status == "pass" and any("guess: uninformative" in r for r in result.verdict.reasons)


def test_a_base_not_yet_clear_of_chance_gets_more_base_items_before_any_test():
    # Base right on every third item (33%, chance 25%): not significant at 50 items, clearly so later.
    third = {i for i in range(400) if i % 3 == 0}
    base, cand = scorers({"third": third}, {"third": third})
    result = judge(base, cand, [Fixed("third", 400)], [], JudgeSettings(first_look=50, max_items=400))
    comparison = result.forgetting["third"]
    assert comparison.status == "pass"
    first_test = comparison.looks[0]["n"]
    assert first_test > 50  # no test (and no candidate item) before the base was clear of chance
    assert len(cand.known("third")) == comparison.n  # the candidate scored only what the tests used


def test_only_uninformative_benchmarks_leave_the_verdict_undecided():
    guess = {i for i in range(100) if i % 4 == 0}
    base, cand = scorers({"guess": guess}, {"guess": guess})
    result = judge(base, cand, [Fixed("guess", 100)], [], JudgeSettings(first_look=50, max_items=100, policy="point"))
    assert result.forgetting["guess"].status == "uninformative"
    assert result.verdict.status == "undecided" and not result.verdict.passed


def test_chance_corrected_forgetting_is_relative_to_the_margin_above_chance():
    # base 50% (chance 25%), fine-tuned 45%: (0.50 - 0.45) / 0.50 = 10%, but / (0.50 - 0.25) = 20%.
    base_right = set(range(0, 400, 2))
    cand_right = set(list(base_right)[:180])
    for relative_to, expected in (("base", 10.0), ("above_chance", 20.0)):
        base, cand = scorers({"b": base_right}, {"b": cand_right})
        settings = JudgeSettings(first_look=400, max_items=400, relative_to=relative_to,
                                 population="tasks_like_these")
        c = judge(base, cand, [Fixed("b", 400)], [], settings).forgetting["b"]
        assert c.relative == pytest.approx(expected)
        assert c.relative_ci.low < expected < c.relative_ci.high
        assert c.relative_to == relative_to and c.chance == pytest.approx(0.25)
        # The benchmark as the population: all 400 of its items scored is its exact forgetting.
        exact = judge(base, cand, [Fixed("b", 400)], [], JudgeSettings(
            first_look=400, max_items=400, relative_to=relative_to)).forgetting["b"]
        assert exact.relative_ci.low == exact.relative_ci.high == pytest.approx(expected)
        assert exact.status == "fail" and exact.ci_method.startswith("exact")


def test_items_are_scored_once_across_looks():
    asked: list[str] = []

    class Counting(Fixed):
        def evaluate(self, model, *, items, batch_size):
            asked.extend(items)
            return super().evaluate(model, items=items, batch_size=batch_size)

    right = {i for i in range(800) if i % 10 < 6}
    drop = {i for i in right if i % 10 != 5}  # 60% -> 50%: clearly forgotten
    base, cand = scorers({"c": right}, {"c": drop})
    result = judge(base, cand, [Counting("c", 800)], [], JudgeSettings(first_look=50, max_items=800))
    assert result.forgetting["c"].status == "fail"
    n = result.forgetting["c"].n
    assert len(asked) == 2 * n and len(set(asked)) == n  # each item once per model, however many looks


@pytest.mark.parametrize("benchmarks,message", [
    ({"first_look": 100, "max_items": 50}, "max_items (50) is below first_look (100)"),
])
def test_bad_sequential_settings_exit_2_before_any_model_loads(tmp_path, capsys, benchmarks, message):
    import yaml

    from harness.cli import main

    config = tmp_path / "run.yml"
    config.write_text(yaml.safe_dump({"base_model": "no/such-model", "datasets": [{"path": "x.jsonl"}],
                                      "benchmarks": benchmarks, "forgetting": {"threshold": 0}}))
    assert main(["validate", str(config)]) == 2
    err = capsys.readouterr().err
    assert message in err and "forgetting.threshold" in err
