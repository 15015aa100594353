"""Replay weighted by what was forgotten, and training mixes that never hold an evaluated item."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import yaml

from harness import (
    Benchmark,
    BenchmarkResult,
    DataSource,
    EvaluationRecord,
    Example,
    ItemDetail,
    ItemScore,
    Message,
    MixContext,
    UsageError,
)
from harness.config_issues import ConfigError
from harness.resolve.config_file import parse_config
from harness.data.decontamination import EvaluatedTexts
from harness.data.sources import load_prompt_set
from harness.evaluation.judging import JudgeSettings
from harness.evaluation.stats import paired_comparison
from harness.hookspecs import hookimpl
from harness.loop import replay
from harness.loop import rounds as loop
from harness.plugins import load_harness
from harness.testing import chat_records, write_jsonl
from harness_plugins.mixers.weighted import apportion
from scenario import DamageBenchmark, ScenarioPlugin, scenario  # noqa: F401  (fixture)

QUESTION = "Which gas makes up most of the air that people breathe at sea level on Earth?"  # 16 words


def examples(prefix, n):
    return [Example(messages=(Message("user", f"{prefix} question {i}?"), Message("assistant", f"{prefix} answer {i}.")),
                    origin=f"{prefix}.jsonl:{i + 1}") for i in range(n)]


def mixer(harness_app, name, **options):
    cls = harness_app.mixer(name)
    return cls(cls.Options(**options))


def context(tmp_path, share=0.2, forgetting=None, evaluated=None):
    return MixContext(general_share=share, seed=0, cache_dir=tmp_path, forgetting=forgetting or {},
                      threshold=5.0, evaluated=evaluated)


def sources():
    return [DataSource("arc_data", examples("arc", 400), rehearses=("arc",)),
            DataSource("sciq_data", examples("sciq", 400), rehearses=("sciq",)),
            DataSource("chat", examples("chat", 400))]


# ------------------------------------------------------------------ severity weighting


def test_severity_weighting_moves_the_mix_toward_the_forgotten_benchmarks_source(harness_app, tmp_path):
    domain = DataSource("domain", examples("fire", 1000))
    weighted = mixer(harness_app, "weighted", by_forgetting=True)
    first = weighted.mix(domain, sources(), context(tmp_path)).manifest
    assert first["general_by_source"] == {"arc_data": 84, "sciq_data": 83, "chat": 83}  # as configured: 1:1:1
    assert first["by_forgetting"]["arc_data"]["reason"] == "nothing measured yet (first round): configured weight"

    # ARC forgot 10% (twice the 5% threshold), SciQ improved: ARC's source weighs 1 + 1 * 10/5 = 3.
    second = weighted.mix(domain, sources(), context(tmp_path, forgetting={"arc": 10.0, "sciq": -2.0})).manifest
    assert second["weights_used"] == {"arc_data": 3.0, "sciq_data": 1.0, "chat": 1.0}
    assert second["general_by_source"] == {"arc_data": 150, "sciq_data": 50, "chat": 50}
    assert second["general"] == first["general"] == 250  # the share is the round's; only the split moves
    why = second["by_forgetting"]
    assert why["arc_data"]["forgetting"] == {"arc": 10.0} and why["arc_data"]["factor"] == 3.0
    assert why["arc_data"]["reason"] == "arc forgot 10.00% (threshold 5%): configured weight x 3.000"
    assert why["sciq_data"]["reason"] == "sciq did not forget: configured weight"
    assert why["chat"]["reason"] == "rehearses nothing named: configured weight"

    # strength scales the boost; the configured weight is the base it multiplies.
    half = mixer(harness_app, "weighted", by_forgetting=True, strength=0.5)
    srcs = sources()
    srcs[0].weight = 2
    m = half.mix(domain, srcs, context(tmp_path, forgetting={"arc": 10.0})).manifest
    assert m["weights_used"]["arc_data"] == 4.0  # 2 x (1 + 0.5 * 10 / 5)
    assert m["general_by_source"] == dict(zip(["arc_data", "sciq_data", "chat"], apportion(250, [4.0, 1.0, 1.0])))


def test_a_group_is_rehearsed_by_its_own_forgetting_and_the_worst_target_counts(harness_app, tmp_path):
    domain = DataSource("domain", examples("fire", 600))
    general = [DataSource("anatomy", examples("anat", 300), rehearses=("mmlu/anatomy",)),
               DataSource("both", examples("both", 300), rehearses=("mmlu/law", "arc")),
               DataSource("unmeasured", examples("un", 300), rehearses=("mmlu/virology",))]
    forgetting = {"mmlu": 4.0, "mmlu/anatomy": 15.0, "mmlu/law": 2.5, "arc": 5.0}
    m = mixer(harness_app, "weighted", by_forgetting=True).mix(
        domain, general, context(tmp_path, 0.25, forgetting)).manifest
    assert m["weights_used"] == {"anatomy": 4.0, "both": 2.0, "unmeasured": 1.0}
    assert m["by_forgetting"]["unmeasured"]["unmeasured"] == ["mmlu/virology"]
    assert m["general_by_source"] == {"anatomy": 114, "both": 57, "unmeasured": 29}


def test_round_one_mixes_exactly_as_without_the_option(harness_app, tmp_path):
    domain = DataSource("domain", examples("fire", 300))
    plain = mixer(harness_app, "weighted").mix(domain, sources(), context(tmp_path))
    severity = mixer(harness_app, "weighted", by_forgetting=True).mix(domain, sources(), context(tmp_path))
    assert severity.examples == plain.examples
    assert "by_forgetting" not in plain.manifest


# ------------------------------------------------------------------------- decontamination


def test_evaluated_texts_match_an_item_inside_other_text_whatever_the_case_and_punctuation():
    evaluated = EvaluatedTexts([QUESTION, "Capital of France?", "Name the largest planet in our solar system please"])
    assert (evaluated.items, evaluated.unchecked) == (3, 1)  # under 8 words identifies nothing

    def chat(text):
        return Example(messages=(Message("user", text), Message("assistant", "Nitrogen.")))

    assert evaluated.contaminates(chat(f"Quiz time!\n{QUESTION.upper().replace(' ', '  ')}"))
    # 13 consecutive words of a longer item are enough (here without its first and last words).
    assert evaluated.contaminates(chat("gas makes up most of the air that people breathe at sea level, roughly?"))
    assert evaluated.contaminates(Example(text="Q: name the largest planet in our solar system, please! A: Jupiter"))
    assert not evaluated.contaminates(chat("Which gas makes up most of the air on Mars?"))  # shared stem only
    assert not evaluated.contaminates(chat("What is the capital of France?"))  # the short item is not checked


def test_no_mix_holds_an_evaluated_items_text_and_drops_are_counted(harness_app, tmp_path):
    evaluated = EvaluatedTexts([QUESTION])
    leaked = Example(messages=(Message("user", f"Trivia: {QUESTION}"), Message("assistant", "Nitrogen.")),
                     origin="trivia.jsonl:7")
    leaked_domain = Example(text=f"Briefing note. {QUESTION} Nitrogen.", origin="domain.jsonl:3")
    domain = DataSource("domain", examples("fire", 100) + [leaked_domain])
    for name, options in (("ratio", {}), ("weighted", {}), ("weighted", {"by_forgetting": True})):
        general = [DataSource("trivia", examples("trivia", 50) + [leaked], rehearses=("arc",)),
                   DataSource("chat", examples("chat", 50))]
        result = mixer(harness_app, name, **options).mix(domain, general, context(tmp_path, 0.5, evaluated=evaluated))
        assert not any(evaluated.contaminates(e) for e in result.examples), name
        report = result.manifest["decontamination"]
        assert report["dropped"] == 2 and report["dropped_by_source"] == {"domain": 1, "trivia": 1, "chat": 0}
        assert report["dropped_examples"] == ["domain.jsonl:3", "trivia.jsonl:7"]
        assert report["evaluated_items"] == 1 and "13 consecutive words" in report["rule"]
        assert result.manifest["domain"] == 100
    unchecked = mixer(harness_app, "ratio").mix(domain, [DataSource("chat", examples("chat", 50))], context(tmp_path))
    assert unchecked.manifest["decontamination"]["checked"] is False


def test_builtin_mmlu_validation_rehearses_mmlu_without_its_test_questions():
    anatomy = load_prompt_set("builtin:mmlu_validation/anatomy")
    assert len(anatomy) == 14 and all([m.role for m in e.messages] == ["user", "assistant"] for e in anatomy)
    assert anatomy[0].messages[0].content == ("Which of the following terms describes the body's ability to maintain "
                                              "its normal state?\nA. Anabolism\nB. Catabolism\nC. Tolerance\nD. Homeostasis")
    assert anatomy[0].messages[1].content == "D. Homeostasis"
    # This validation question is also in MMLU's test split, so it is not rehearsal data.
    medicine = load_prompt_set("builtin:mmlu_validation/college_medicine")
    assert 0 < len(medicine) < 22
    assert not any("How many chromosomes do all human somatic cells" in e.messages[0].content for e in medicine)
    with pytest.raises(UsageError, match="Did you mean 'anatomy'"):
        load_prompt_set("builtin:mmlu_validation/anatomyy")


# --------------------------------------------------------------- what the loop measures


class GroupedBenchmark(Benchmark):
    """Items q0..q99 in two groups (low: q0-q49), with texts; records which items it was asked about."""

    name = "grouped"
    asked: list[str] = []

    def definition_fingerprint(self):
        return "grouped-v1"

    def item_ids(self):
        return [f"q{i}" for i in range(100)]

    def item_details(self, items):
        GroupedBenchmark.asked = list(items)
        return {i: ItemDetail(text=f"Grouped benchmark item {i} asks something long enough to be checked",
                              group="low" if int(i[1:]) < 50 else "high") for i in items}


def _result(name, scores):
    return BenchmarkResult(name, "acc", [ItemScore(i, s, 0.25) for i, s in scores.items()])


def test_measured_forgetting_per_benchmark_and_group_shrunk_toward_the_benchmark():
    base = {f"q{i}": 1.0 for i in range(100)}
    candidate = {f"q{i}": 0.0 if i < 12 else 1.0 for i in range(100)}  # low: 12 of 50 wrong, high: none
    b, c = _result("grouped", base), _result("grouped", candidate)
    comparison = paired_comparison(b, c, samples=200)
    flat = paired_comparison(b, c, samples=200)
    flat.status = "uninformative"
    details = {"grouped": GroupedBenchmark().item_details([f"q{i}" for i in range(100)])}
    record = EvaluationRecord(base={"grouped": b, "flat": b}, candidate={"grouped": c, "flat": c},
                              forgetting={"grouped": comparison, "flat": flat}, gain={}, passed=False)
    measured = replay.measured_forgetting(record, details)
    assert measured["grouped"] == pytest.approx(12.0)
    # low alone forgot 24% on 50 items; shrunk with the weight of 20 items toward 12%.
    assert measured["grouped/low"] == pytest.approx((50 * 24 + 20 * 12) / 70)
    assert measured["grouped/high"] == pytest.approx((50 * 0 + 20 * 12) / 70)
    assert "flat" not in measured  # at chance for this model: not a signal


def test_item_details_are_read_for_every_item_a_verdict_may_score_and_only_where_implemented():
    class Plain(Benchmark):  # no item_details of its own
        name = "plain"

        def item_ids(self):
            raise AssertionError("a benchmark without item_details is never listed for them")

    sequential = JudgeSettings(policy="sequential", first_look=10, max_items=30, seed=3)
    details = replay.read_details([GroupedBenchmark(), Plain()], [], sequential)
    assert list(details) == ["grouped"] and len(GroupedBenchmark.asked) == 30
    replay.read_details([GroupedBenchmark()], [], JudgeSettings(policy="point", limit=None))
    assert len(GroupedBenchmark.asked) == 100
    assert replay.evaluated_texts(details).items == 30


# -------------------------------------------------------------------------------- config


def _config(**mitigation):
    return {"base_model": "m", "benchmarks": {"suite": "general-small"},
            "mitigation": {"mixer": {"name": "weighted", "by_forgetting": True},
                           "general_data": [{"path": "a.jsonl", "rehearses": ["offline_arc_easy"]}], **mitigation}}


def test_config_checks_what_sources_rehearse_before_anything_loads(harness_app):
    config = parse_config(_config(), harness_app)
    assert config.mitigation.general_data[0].rehearses == ["offline_arc_easy"]
    bad = _config(general_data=[{"path": "a.jsonl", "rehearses": ["offline_mmlu/anatomy", "arc_easy"]}])
    with pytest.raises(ConfigError) as error:
        parse_config(bad, harness_app)
    assert [i.path for i in error.value.issues] == ["mitigation.general_data[0].rehearses[0]",
                                                    "mitigation.general_data[0].rehearses[1]"]
    message = str(error.value)
    assert "unknown benchmark 'offline_mmlu'" in message and "offline_arc_easy, offline_commonsense_qa" in message
    assert "did you mean 'offline_arc_easy'?" in message
    with pytest.raises(ConfigError, match=r"mitigation.general_data\[0\].rehearses: mixer 'ratio'"):
        parse_config(_config(mixer="ratio"), harness_app)
    with pytest.raises(ConfigError, match="no mitigation.general_data entry says what it rehearses"):
        parse_config(_config(general_data=[{"path": "a.jsonl"}]), harness_app)
    with pytest.raises(ConfigError, match="strength only applies with by_forgetting: true"):
        parse_config(_config(mixer={"name": "weighted", "strength": 2}), harness_app)


def test_bad_replay_options_exit_2_naming_the_key(tmp_path):
    path = tmp_path / "bad.yml"
    path.write_text(yaml.safe_dump(_config(mixer={"name": "weighted", "by_forgetting": True, "strength": 0})))
    result = subprocess.run([sys.executable, "-m", "harness.cli", "validate", str(path)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert "mitigation.mixer.strength: Input should be greater than 0" in result.stderr


# ------------------------------------------------------------------------ through the loop


class GroupedDamage(DamageBenchmark):
    """The scenario's general benchmark with groups and texts (q0-q49 "low", where the damage lands)."""

    name = "test_grouped"

    def item_details(self, items):
        return {i: ItemDetail(text=f"Scenario item {i[1:]} is a question long enough to identify itself",
                              group="low" if int(i[1:]) < 50 else "high") for i in items}


class GroupedPlugin:
    @hookimpl
    def harness_register_benchmarks(self, register):
        register(GroupedDamage)


def test_the_loop_rehearses_the_forgotten_group_more_and_never_trains_on_an_item(scenario, tmp_path):
    config_path, _ = scenario("schedule")
    data = yaml.safe_load(config_path.read_text())
    low = chat_records(200, "low", seed=1)
    low[5]["messages"][0]["content"] = "Scenario item 7 is a question long enough to identify itself. Answer?"
    write_jsonl(tmp_path / "low.jsonl", low)
    write_jsonl(tmp_path / "high.jsonl", chat_records(200, "high", seed=2))
    data["benchmarks"]["general"] = ["test_grouped"]
    data["mitigation"].update(
        mixer={"name": "weighted", "by_forgetting": True}, schedule=[0.2, 0.3],
        general_data=[{"path": "low.jsonl", "rehearses": ["test_grouped/low"]},
                      {"path": "high.jsonl", "rehearses": ["test_grouped/high"]},
                      {"path": "general.jsonl"}])
    config_path.write_text(yaml.safe_dump(data))
    harness = load_harness(extra_plugins=[ScenarioPlugin(), GroupedPlugin()])
    loop.run(config_path, harness, tmp_path / "run", progress=False)

    mixes = [json.loads((tmp_path / "run" / "rounds" / f"round-{i}" / "mix.json").read_text()) for i in (1, 2)]
    for mix in mixes:
        assert mix["decontamination"]["dropped_by_source"]["low.jsonl"] == 1
        assert mix["decontamination"]["evaluated_items"] == 100
    assert mixes[0]["weights_used"] == {"low.jsonl": 1.0, "high.jsonl": 1.0, "general.jsonl": 1.0}
    # Round 1 forgot 12% overall, all of it on the low group (24% there; shrunk: 20.57%).
    why = mixes[1]["by_forgetting"]
    assert why["low.jsonl"]["forgetting"]["test_grouped/low"] == pytest.approx((50 * 24 + 20 * 12) / 70)
    assert why["low.jsonl"]["factor"] == pytest.approx(1 + (50 * 24 + 20 * 12) / 70 / 5, abs=1e-6)
    assert why["high.jsonl"]["factor"] == pytest.approx(1 + (20 * 12) / 70 / 5, abs=1e-6)
    assert why["general.jsonl"]["factor"] == 1.0
    share = [m["general_by_source"]["low.jsonl"] / m["general"] for m in mixes]
    assert share[1] > 0.5 > share[0]
