"""The train -> evaluate -> decide loop, on the deterministic forgetting scenario (tests/scenario.py)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest
import yaml

from harness.loop import rounds as loop
from scenario import N_ITEMS, DamageBenchmark, DamageTrainer, scenario  # noqa: F401  (fixture)


def test_schedule_steps_shares_and_stops_at_first_pass(scenario, tmp_path):
    config, harness = scenario("schedule")
    verdict = loop.run(config, harness, tmp_path / "run", progress=False)
    shares = [r["general_share"] for r in verdict["rounds"]]
    assert shares == [0.2, 0.3, 0.4]
    assert [r["passed"] for r in verdict["rounds"]] == [False, False, True]
    assert [round(r["worst_forgetting"], 6) for r in verdict["rounds"]] == [12.0, 7.0, 2.0]
    assert verdict["passed"] and verdict["chosen_round"] == 3
    for index in (1, 2, 3):
        rdir = tmp_path / "run" / "rounds" / f"round-{index}"
        assert (rdir / "COMPLETE").is_file()
        forgetting = json.loads((rdir / "forgetting.json").read_text())["forgetting"]["test_general"]
        assert forgetting["n"] == N_ITEMS and forgetting["p_value"] <= 1
        mix = json.loads((rdir / "mix.json").read_text())
        assert mix  # the mixer's manifest is saved per round
    assert json.loads((tmp_path / "run" / "verdict.json").read_text())["chosen_round"] == 3


def test_adaptive_policy_needs_fewer_rounds(scenario, tmp_path):
    config, harness = scenario("adaptive")
    verdict = loop.run(config, harness, tmp_path / "run", progress=False)
    assert verdict["passed"]
    assert len(verdict["rounds"]) < 3
    assert verdict["rounds"][0]["general_share"] == 0.2
    assert verdict["rounds"][-1]["general_share"] > 0.4  # jumped past the schedule's next steps


def test_no_pass_picks_least_forgetting(scenario, tmp_path):
    config, harness = scenario("schedule")
    data = yaml.safe_load(config.read_text())
    data["forgetting"]["threshold"] = 1.0  # nothing passes
    config.write_text(yaml.safe_dump(data))
    verdict = loop.run(config, harness, tmp_path / "run", progress=False)
    assert not verdict["passed"] and len(verdict["rounds"]) == 3
    assert verdict["chosen_round"] == 3 and "forgot least" in verdict["reason"]


@pytest.mark.slow
def test_resume_after_a_kill_does_not_redo_finished_rounds(scenario, tmp_path):
    config, harness = scenario("schedule")
    run_dir = tmp_path / "run"
    DamageTrainer.crash_on_round = 2
    with pytest.raises(KeyboardInterrupt):
        loop.run(config, harness, run_dir, progress=False)
    assert DamageTrainer.calls == [1]
    assert (run_dir / "rounds" / "round-1" / "COMPLETE").is_file()
    assert not (run_dir / "rounds" / "round-2" / "COMPLETE").exists()
    round1 = {p: p.stat().st_mtime_ns for p in (run_dir / "rounds" / "round-1").rglob("*") if p.is_file()}
    evaluations_before = DamageBenchmark.evaluations  # base + round 1

    DamageTrainer.crash_on_round = None
    shutil.rmtree(tmp_path / "cache")  # no evaluation cache: re-evaluation would show in the count
    verdict = loop.run(None, harness, run_dir, resume=True, progress=False)
    assert DamageTrainer.calls == [1, 2, 3]  # round 1 was not retrained
    assert DamageBenchmark.evaluations == evaluations_before + 2  # rounds 2 and 3 only; base not redone
    assert {p: p.stat().st_mtime_ns for p in round1} == round1
    assert [r["general_share"] for r in verdict["rounds"]] == [0.2, 0.3, 0.4]


def test_run_refuses_to_overwrite_a_run(scenario, tmp_path):
    config, harness = scenario("schedule")
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "something").write_text("x")
    with pytest.raises(Exception, match="already holds a run"):
        loop.run(config, harness, tmp_path / "run", progress=False)


def _gate(*args):
    return subprocess.run([sys.executable, "-m", "harness.cli", "gate", *map(str, args)],
                          capture_output=True, text=True, timeout=120)


@pytest.mark.slow
def test_gate_exit_codes(scenario, tmp_path):
    config, harness = scenario("schedule")
    loop.run(config, harness, tmp_path / "run", progress=False)
    passed = _gate(tmp_path / "run")
    assert passed.returncode == 0 and "## Forgetting gate: PASS" in passed.stdout
    assert "| test_general | general | 100 | 1.000 | 0.980 |" in passed.stdout
    strict = _gate(tmp_path / "run" / "verdict.json", "--max-forgetting", "1")
    assert strict.returncode == 1 and "FAIL" in strict.stdout
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    assert _gate(bad).returncode == 2
    bad.write_text(json.dumps({"schema": "something else"}))
    assert _gate(bad).returncode == 2
    assert _gate(tmp_path / "nowhere").returncode == 2


def test_checkpoint_choice_prefers_best_val_loss_under_the_drift_threshold():
    from harness.loop.early_warning import choose_checkpoint

    evals = [
        {"step": 10, "val_loss": 2.0, "early_warning": 1.0},
        {"step": 20, "val_loss": 1.5, "early_warning": 3.0},
        {"step": 30, "val_loss": 1.2, "early_warning": 9.0},  # best loss, but drifted past 5%
    ]
    assert choose_checkpoint(evals, 5.0, {10, 20, 30})[0] == 20
    assert choose_checkpoint(evals, 5.0, {10, 30})[0] == 10  # only saved checkpoints qualify
    step, reason = choose_checkpoint(evals, 0.5, {10, 20, 30})
    assert step == 10 and "least" in reason
    assert choose_checkpoint([{"step": 5, "val_loss": 1.0}], 5.0, {5})[0] is None


def test_general_kl_is_zero_for_the_base_and_grows_with_damage(tiny_model_dir):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from harness.loop.early_warning import GeneralDrift
    from harness import Example, Message

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    examples = [Example(messages=(Message("user", f"Question {i}?"), Message("assistant", f"Answer {i}.")))
                for i in range(6)]
    reference = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    drift = GeneralDrift(examples, tokenizer, max_length=64, batch_size=4, reference=reference)
    start = drift(model, 0)
    assert start["early_warning"] == pytest.approx(0.0, abs=1e-6)
    assert start["general_nll_rise_pct"] == pytest.approx(0.0, abs=1e-6)
    kls = []
    for scale in (0.01, 0.05):
        damaged = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
        torch.manual_seed(0)
        with torch.no_grad():
            for p in damaged.parameters():
                p.add_(torch.randn_like(p) * scale)
        kls.append(drift(damaged, 1)["early_warning"])
    assert 0 < kls[0] < kls[1]  # more damage, more divergence


def test_drift_sample_never_uses_training_examples():
    from harness import Example, Message
    from harness.loop.early_warning import drift_sample

    pool = [Example(messages=(Message("user", f"q{i}"), Message("assistant", f"a{i}"))) for i in range(20)]
    trained = pool[:15] + [Example(messages=(Message("user", "q15"), Message("assistant", "other answer")))]
    sample = drift_sample(pool, 10, seed=0, exclude=trained)
    assert sorted(e.messages[0].content for e in sample) == ["q16", "q17", "q18", "q19"]


@pytest.mark.slow
def test_sequential_loop_decides_each_round_and_treats_undecided_as_not_passed(scenario, tmp_path, monkeypatch):
    """12% forgetting is decided fail early, 7% is undecided at 400 items, 2% is decided pass
    (items read as a sample of an unlimited pool: the benchmark's own 400 would decide the 7%)."""
    monkeypatch.setattr("scenario.N_ITEMS", 400)
    config, harness = scenario("schedule")
    data = yaml.safe_load(config.read_text())
    data["forgetting"].update({"policy": "sequential", "population": "tasks_like_these"})
    data["benchmarks"].update({"first_look": 50, "max_items": 400})
    config.write_text(yaml.safe_dump(data))
    verdict = loop.run(config, harness, tmp_path / "run", progress=False)
    rounds = verdict["rounds"]
    assert [r["status"] for r in rounds] == ["fail", "undecided", "pass"]
    first, second, third = (r["forgetting"]["test_general"] for r in rounds)
    assert first["status"] == "fail" and first["n"] < 400  # decided before the last look
    assert second["status"] == "undecided" and second["n"] == 400 and second["more_items"] > 0
    assert third["status"] == "pass" and third["relative_ci"]["high"] < 5
    assert "round undecided, so not passed" in (tmp_path / "run" / "rounds" / "round-2" / "decision.json").read_text()
    assert verdict["status"] == "pass" and verdict["chosen_round"] == 3
    assert "anytime-valid" in verdict["judging"]["method"] and "tasks like these" in verdict["judging"]["method"]
    # The base was scored once per item across all rounds and looks, and saved as it grew.
    base = json.loads((tmp_path / "run" / "base" / "eval.json").read_text())["test_general"]
    assert base["n"] == 400

    assert _gate(tmp_path / "run").returncode == 0
    undecided = _gate(tmp_path / "run", "--max-forgetting", "1")  # 2% vs 1%: the run's 400 items cannot tell
    assert undecided.returncode == 3 and "## Forgetting gate: UNDECIDED" in undecided.stdout
    point = _gate(tmp_path / "run", "--max-forgetting", "1", "--policy", "point")
    assert point.returncode == 1 and "| **fail** |" in point.stdout
    assert _gate(tmp_path / "run", "--max-forgetting", "0").returncode == 2


@pytest.mark.slow
def test_a_benchmark_scored_in_full_is_decided_exactly(scenario, tmp_path, monkeypatch):
    """population: benchmark (the default): at all 400 items the 7% round is the benchmark's exact
    forgetting, a decided fail, where the unlimited-pool reading above stays undecided."""
    monkeypatch.setattr("scenario.N_ITEMS", 400)
    config, harness = scenario("schedule")
    data = yaml.safe_load(config.read_text())
    data["forgetting"]["policy"] = "sequential"
    data["benchmarks"].update({"first_look": 50, "max_items": 400})
    config.write_text(yaml.safe_dump(data))
    verdict = loop.run(config, harness, tmp_path / "run", progress=False)
    second = verdict["rounds"][1]["forgetting"]["test_general"]
    assert second["status"] == "fail" and second["relative_ci"]["low"] >= 5.0  # decided, at most all 400 items
    if second["n"] == 400:
        assert second["relative_ci"]["low"] == second["relative_ci"]["high"] == pytest.approx(7.0)
    assert "benchmark's own" in verdict["judging"]["method"]


def test_library_output_goes_to_the_run_folders_log_not_the_console(scenario, tmp_path, capfd):
    import logging

    config, harness = scenario("schedule")

    class Noisy(loop.Loop):
        def base_results(self):
            from tqdm import tqdm

            logging.getLogger("transformers.modeling_utils").warning("a library warning")
            for _ in tqdm(range(3), desc="a library bar"):  # drawn on stderr, as lm-eval's are
                pass
            return super().base_results()

    from harness.resolve.config_file import load_config

    Noisy(load_config(config, harness), harness, tmp_path / "run", progress=True).run()
    out, err = capfd.readouterr()
    log = (tmp_path / "run" / "logs" / "libraries.log").read_text()
    assert "a library warning" not in out + err and "a library bar" not in out + err
    assert "a library warning" in log and "a library bar" in log
    assert "round 1" in out  # our own lines and one bar per stage stay on the console
    for stage in ("base evaluation", "round 1 evaluation"):  # (this scenario's trainer is a test double)
        assert stage in err, stage


def test_an_undecided_round_leaning_pass_stops_instead_of_retraining(tmp_path):
    """More general data cannot settle a shortage of evidence; leaning fail (or a fail) still retrains."""
    from types import SimpleNamespace

    from harness import Action, DecisionContext, EvaluationRecord, RoundOutcome, RoundPlan
    from harness.config import RunConfig
    from harness_plugins.policies import SchedulePolicy

    settings = RunConfig.model_validate({"base_model": "m", "datasets": [{"path": "d.jsonl", "type": "chatml"}]})

    def decide(*estimates: tuple[str, float]):
        forgetting = {f"b{i}": SimpleNamespace(status=status, relative=relative)
                      for i, (status, relative) in enumerate(estimates)}
        evaluation = EvaluationRecord({}, {}, forgetting, {}, passed=False, status="undecided",
                                      reasons=["b0: undecided at n=383"])
        history = [RoundOutcome(RoundPlan(1, 0.2, 1e-3, tmp_path), evaluation)]
        return SchedulePolicy().decide(DecisionContext(settings, history, SchedulePolicy()))

    stop = decide(("undecided", 3.2), ("pass", -6.0))
    assert stop.action is Action.STOP and "leaning pass" in stop.reason and "max_items" in stop.reason
    assert decide(("undecided", 5.7), ("pass", -6.0)).action is Action.RETRAIN


@pytest.mark.slow
def test_a_run_served_from_the_cache_still_saves_the_base_results_it_used(scenario, tmp_path):
    config, harness = scenario("schedule")
    loop.run(config, harness, tmp_path / "first", progress=False)
    evaluations = DamageBenchmark.evaluations
    loop.run(config, harness, tmp_path / "second", progress=False)  # same HARNESS_CACHE: every item cached
    saved = json.loads((tmp_path / "second" / "base" / "eval.json").read_text())
    assert DamageBenchmark.evaluations == evaluations  # nothing scored again ...
    assert len(saved["test_general"]["items"]) == N_ITEMS  # ... and still on disk in the second run folder


def test_base_full_scores_the_base_once_on_every_item_and_draws_the_candidate_s(scenario, tmp_path, monkeypatch):
    monkeypatch.setattr("scenario.N_ITEMS", 400)
    config, harness = scenario("schedule")
    data = yaml.safe_load(config.read_text())
    data["forgetting"]["policy"] = "sequential"
    data["benchmarks"].update({"first_look": 50, "max_items": 400, "base_full": True})
    config.write_text(yaml.safe_dump(data))
    verdict = loop.run(config, harness, tmp_path / "run", progress=False)
    base = json.loads((tmp_path / "run" / "base" / "eval.json").read_text())["test_general"]
    assert base["n"] == 400  # every item, once, for all rounds
    first, *_, last = (r["forgetting"]["test_general"] for r in verdict["rounds"])
    assert first["status"] == "fail" and first["base"] == pytest.approx(1.0)
    assert "base-assisted draws" in first["ci_method"] and first["n"] < 400
    # Rounds train anew: none is steered by the one before (only interpolation probes are).
    assert not any("previous probe" in r["forgetting"]["test_general"]["ci_method"] for r in verdict["rounds"])
    assert last["status"] == "pass" and verdict["status"] == "pass"
    assert _gate(tmp_path / "run").returncode == 0  # the gate re-judges the drawn looks from verdict.json

    data["forgetting"]["policy"] = "point"
    config.write_text(yaml.safe_dump(data))
    from harness.cli import main

    assert main(["validate", str(config)]) == 2


@pytest.mark.slow
def test_a_run_judged_with_planned_looks_still_gates_and_says_so(scenario, tmp_path):
    config, harness = scenario("schedule")
    data = yaml.safe_load(config.read_text())
    data["forgetting"].update({"policy": "sequential", "spending": "pocock"})
    config.write_text(yaml.safe_dump(data))
    loop.run(config, harness, tmp_path / "run", progress=False)
    gate = _gate(tmp_path / "run", "--max-forgetting", "6")  # re-judged from its saved looks
    assert gate.returncode in (0, 3) and "Judged with planned looks" in gate.stdout
    assert "Pocock" in json.loads((tmp_path / "run" / "verdict.json").read_text())["judging"]["method"]


@pytest.mark.slow
def test_ewc_estimates_its_fisher_on_self_rehearsal_answers(tmp_path, tiny_model_dir, monkeypatch):
    """EWC with the self_rehearsal mixer (configs/ewc_demo.yml's setup): the general data EWC's Fisher
    needs are the base's own answers the mixer brings, with no general files configured."""
    from harness.plugins import load_harness
    from harness.testing import chat_records, write_jsonl

    monkeypatch.setenv("HARNESS_CACHE", str(tmp_path / "cache"))
    write_jsonl(tmp_path / "domain.jsonl", chat_records(24))
    config = dict(base_model=str(tiny_model_dir), dtype="float32", bf16=False, lora_r=4, lora_alpha=8,
                  trainer={"name": "ewc", "ewc_lambda": 10.0, "fisher_samples": 4, "base": "lora"},
                  micro_batch_size=4, max_steps=2, sequence_len=96, val_set_size=0.0, seed=0,
                  datasets=[{"path": "domain.jsonl"}],
                  benchmarks={"suite": None, "general": [{"name": "offline_arc_easy", "limit": 8}],
                              "domain": [{"name": "domain_mc", "limit": 8}], "limit": None, "batch_size": 4},
                  forgetting={"threshold": 5.0, "policy": "point", "bootstrap_samples": 100},
                  mitigation={"mixer": {"name": "self_rehearsal", "max_new_tokens": 4, "batch_size": 4,
                                        "keep_unfinished": True}, "schedule": [0.2], "max_rounds": 1},
                  reporters=[], samples={"domain": 0, "general": [], "max_new_tokens": 4})
    path = tmp_path / "ewc.yml"
    path.write_text(yaml.safe_dump(config))
    loop.run(path, load_harness(), tmp_path / "run", progress=False)  # no "EWC needs general data"
    round_dir = tmp_path / "run" / "rounds" / "round-1"
    assert (round_dir / "COMPLETE").is_file()
    training = json.loads((round_dir / "training.json").read_text())
    assert training["steps"] == 2
