"""Interpolation toward the base: the weights at s, their saved forms, the bisection and the policy."""

from __future__ import annotations

import json
import math
import pytest
import torch
import yaml

from harness import Benchmark, BenchmarkResult, EvaluationRecord, ItemScore, Trainer, TrainingRecord
from harness.evaluation.scoring import Scorer, take_items
from harness.hookspecs import hookimpl
from harness.loop import rounds as loop
from harness.loop.interpolation import bisect_scale, choose_scale
from harness.models.interpolation import Interpolation, is_scalable_adapter
from harness.models.loading import load_model
from harness.plugins import load_harness
from harness.testing import chat_records, write_jsonl


def _tensors(model) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


@pytest.fixture(scope="module")
def tiny_lora(tiny_model_dir, tmp_path_factory):
    """A LoRA adapter on the tiny model with non-zero B (so it changes the outputs)."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(1)
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    peft_model = get_peft_model(model, LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj", "down_proj"]))
    with torch.no_grad():
        for name, param in peft_model.named_parameters():
            if "lora_B" in name:
                param.normal_(0, 20.0)
    folder = tmp_path_factory.mktemp("lora") / "adapter"
    peft_model.save_pretrained(folder)
    return folder


@pytest.fixture
def base(tiny_model_dir):
    return load_model(str(tiny_model_dir), device="cpu", dtype="float32", fingerprint=False)


def _domain(harness_app) -> Benchmark:
    cls = harness_app.benchmark("domain_mc")
    return cls(cls.Options())


def _outcomes(model, benchmark) -> list[tuple[str, float]]:
    ids = take_items(benchmark, 40, seed=0)
    return [(i.item_id, i.score) for i in Scorer(model, batch_size=8, cache=False).score(benchmark, ids).items]


@pytest.mark.slow
def test_adapter_scale_0_is_the_base_and_1_the_fine_tune_item_by_item(base, tiny_lora, tmp_path, harness_app):
    from harness.models.adapters import merge_adapter

    assert is_scalable_adapter(tiny_lora)
    path = Interpolation(base, tiny_lora, True, load_tuned=lambda: pytest.fail("a plain adapter needs no full load"))
    benchmark = _domain(harness_app)
    tuned = merge_adapter(base, tiny_lora)
    at0, at1 = path.model_at(0.0, scratch=tmp_path / "s0"), path.model_at(1.0, scratch=tmp_path / "s1")
    assert all(torch.equal(a, b) for a, b in zip(_tensors(at0.model).values(), _tensors(base.model).values()))
    assert all(torch.equal(a, b) for a, b in zip(_tensors(at1.model).values(), _tensors(tuned.model).values()))
    assert _outcomes(at0, benchmark) == _outcomes(base, benchmark)
    assert _outcomes(at1, benchmark) == _outcomes(tuned, benchmark)
    assert _outcomes(tuned, benchmark) != _outcomes(base, benchmark)  # the adapter does change outcomes


def test_adapter_path_is_linear_in_the_update_not_in_a_and_b(base, tiny_lora, tmp_path):
    from harness.models.adapters import merge_adapter

    tuned = _tensors(merge_adapter(base, tiny_lora).model)
    start = _tensors(base.model)
    half = _tensors(Interpolation(base, tiny_lora, True, load_tuned=None).model_at(0.5, scratch=tmp_path / "h").model)
    changed = [k for k in start if not torch.equal(start[k], tuned[k])]
    assert changed and all("q_proj" in k or "v_proj" in k or "down_proj" in k for k in changed)
    for key in changed:  # θ(½) = θ_base + ½·ΔW (scaling A and B each by ½ would give ¼·ΔW)
        torch.testing.assert_close(half[key], start[key] + 0.5 * (tuned[key] - start[key]), rtol=1e-5, atol=1e-6)


@pytest.mark.slow
def test_saved_adapter_loads_in_plain_peft_and_scores_the_same(base, tiny_lora, tiny_model_dir, tmp_path, harness_app):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    from harness import LoadedModel

    path = Interpolation(base, tiny_lora, True, load_tuned=None)
    saved = path.save(0.4, tmp_path / "weights")
    in_harness = path.model_at(0.4, scratch=tmp_path / "probe")
    plain = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny_model_dir), saved).merge_and_unload()
    plain.eval()
    assert all(torch.equal(a, b) for a, b in zip(_tensors(plain).values(), _tensors(in_harness.model).values()))
    benchmark = _domain(harness_app)
    user = LoadedModel(model=plain, tokenizer=base.tokenizer, name="plain peft", fingerprint="", device="cpu", dtype="float32")
    assert _outcomes(user, benchmark) == _outcomes(in_harness, benchmark)


def test_full_weights_interpolate_exactly_at_the_ends_and_save_as_a_model_folder(base, tiny_model_dir, tmp_path):
    from transformers import AutoModelForCausalLM

    tuned = load_model(str(tiny_model_dir), device="cpu", dtype="float32", fingerprint=False)
    with torch.no_grad():
        for param in tuned.model.parameters():
            param.add_(torch.randn_like(param) * 0.01)
    path = Interpolation(base, tmp_path / "unused", False, load_tuned=lambda: tuned)
    assert path.form == "model"
    for scale, expected in ((0.0, base.model), (1.0, tuned.model)):
        got = _tensors(path.model_at(scale).model)
        assert all(torch.equal(got[k], v) for k, v in _tensors(expected).items())
    saved = path.save(0.3, tmp_path / "weights")
    reloaded = _tensors(AutoModelForCausalLM.from_pretrained(saved))
    in_memory = _tensors(path.model_at(0.3).model)
    assert all(torch.equal(reloaded[k], in_memory[k]) for k in in_memory)


def test_an_adapter_that_trains_whole_modules_falls_back_to_model_weights(tiny_lora, tmp_path):
    import shutil

    folder = tmp_path / "with-embeddings"
    shutil.copytree(tiny_lora, folder)
    config = json.loads((folder / "adapter_config.json").read_text())
    config["modules_to_save"] = ["embed_tokens", "lm_head"]
    (folder / "adapter_config.json").write_text(json.dumps(config))
    assert not is_scalable_adapter(folder)  # its new-token rows are full copies, not B·A


# --------------------------------------------------------------------------- bisection


def _record(passed: bool, status: str, domain: float = 0.0) -> EvaluationRecord:
    from harness.evaluation.stats import Comparison, Interval

    gain = Comparison("d", "acc", 10, 0.4, 0.4 + domain, -domain, Interval(0, 0), -domain * 250, Interval(0, 0),
                      0.5, 0, 0)
    return EvaluationRecord({}, {}, {}, {"d": gain}, passed, status=status)


def test_bisection_finds_the_largest_passing_scale_and_treats_undecided_as_not_passed():
    probed = []

    def probe(s):  # forgetting 20%·s against a 5% threshold: passes up to s = 0.25; undecided near it
        probed.append(s)
        forgetting = 20 * s
        status = "pass" if forgetting < 4 else "undecided" if forgetting < 6 else "fail"
        return _record(status == "pass", status, domain=s)

    points = bisect_scale(probe, steps=6)
    assert probed == [0.5, 0.25, 0.125, 0.1875, 0.21875, 0.203125]
    chosen = choose_scale(points, "largest_scale")
    assert chosen.scale == 0.1875 and 20 * chosen.scale < 4 <= 20 * (chosen.scale + 2 ** -6)
    assert choose_scale(bisect_scale(probe, steps=3, min_scale=0.3), "largest_scale") is None  # only 0.5 probed
    assert choose_scale([], "best_domain") is None


# ----------------------------------------------------------------- through the loop


N_ITEMS = 400
DAMAGE = 0.2  # the fine-tune's forgetting: 20% of the general items; at scale s, 20%·s


def _offset(model) -> float:
    """How far the fine-tune moved the marker weight (0 for the base, DAMAGE for the fine-tune, s·DAMAGE between)."""
    return float(model.model.model.norm.weight[0]) - 1.0


class MarkerTrainer(Trainer):
    """Writes the base with one weight moved by DAMAGE: a known fine-tune whose interpolations are known too."""

    name = "test_marker"
    calls = 0

    def train(self, request):
        from transformers import AutoModelForCausalLM, AutoTokenizer

        MarkerTrainer.calls += 1
        model = AutoModelForCausalLM.from_pretrained(request.config.base_model)
        with torch.no_grad():
            model.model.norm.weight[0] = 1.0 + DAMAGE
        out = request.output_dir / "model"
        model.save_pretrained(out)
        AutoTokenizer.from_pretrained(request.config.base_model).save_pretrained(out)
        (request.output_dir / "metrics.jsonl").write_text('{"step": 1, "loss": 1.0}\n')
        return TrainingRecord(request.output_dir, out, False, request.output_dir / "metrics.jsonl",
                              1, 1.0, None, len(request.train), 0.1)


class MarkerGeneral(Benchmark):
    """Item i is forgotten when (i + ½)/N < the marker offset: forgetting is exactly ⌈N·offset − ½⌉/N."""

    name = "test_marker_general"

    def definition_fingerprint(self):
        return "marker-general-v1"

    def item_ids(self):
        return [f"g{i}" for i in range(N_ITEMS)]

    def evaluate(self, model, *, items, batch_size):
        offset = _offset(model)
        return BenchmarkResult(self.name, "acc", [ItemScore(i, 0.0 if (int(i[1:]) + 0.5) / N_ITEMS < offset else 1.0)
                                                  for i in items])


class MarkerDomain(Benchmark):
    """The domain score rises with the offset: 40% for the base, 80% for the fine-tune."""

    name = "test_marker_domain"
    role = "domain"

    def definition_fingerprint(self):
        return "marker-domain-v1"

    def item_ids(self):
        return [f"d{i}" for i in range(100)]

    def evaluate(self, model, *, items, batch_size):
        right = 40 + round(200 * _offset(model))
        return BenchmarkResult(self.name, "acc", [ItemScore(i, float(int(i[1:]) < right)) for i in items])


class MarkerPlugin:
    @hookimpl
    def harness_register_trainers(self, register):
        register(MarkerTrainer)

    @hookimpl
    def harness_register_benchmarks(self, register):
        register(MarkerGeneral)
        register(MarkerDomain)


@pytest.fixture
def marker(tmp_path, tiny_model_dir, monkeypatch):
    monkeypatch.setenv("HARNESS_CACHE", str(tmp_path / "cache"))
    MarkerTrainer.calls = 0
    write_jsonl(tmp_path / "domain.jsonl", chat_records(40, "fire"))
    write_jsonl(tmp_path / "general.jsonl", chat_records(100, "general knowledge", seed=3))

    def make(policy: dict, forgetting: dict | None = None, **extra) -> tuple:
        config = {
            "base_model": str(tiny_model_dir), "dtype": "float32", "trainer": "test_marker",
            "datasets": [{"path": "domain.jsonl"}],
            "benchmarks": {"suite": None, "general": ["test_marker_general"], "domain": ["test_marker_domain"],
                           "limit": None, "max_items": N_ITEMS},
            "forgetting": forgetting or {"threshold": 5.0, "policy": "point", "bootstrap_samples": 200},
            "mitigation": {"mixer": "ratio", "general_data": [{"path": "general.jsonl"}], "schedule": [0.2, 0.3],
                           "policy": policy, "max_rounds": 2},
            "reporters": ["html", "markdown"], "samples": {"domain": 0, "general": []},
            **extra,
        }
        path = tmp_path / "config.yml"
        path.write_text(yaml.safe_dump(config, allow_unicode=True))
        return path, load_harness(extra_plugins=[MarkerPlugin()])

    return make


def test_interpolate_policy_finds_the_boundary_and_ships_the_weights_without_retraining(marker, tmp_path):
    config, harness = marker({"name": "interpolate", "steps": 6})
    verdict = loop.run(config, harness, tmp_path / "run", progress=False)
    assert MarkerTrainer.calls == 1  # the search evaluates; it never trains
    first, second = verdict["rounds"]
    assert first["status"] == "fail" and first["scale"] is None
    # Forgetting at s is ⌈80·s − ½⌉ of 400 items: under 5% (20 items) up to s = 0.24375.
    assert second["scale"] is not None and 0.24375 - 2 ** -6 < second["scale"] <= 0.24375
    assert second["source_round"] == 1 and second["passed"] and verdict["passed"] and verdict["chosen_round"] == 2
    assert "at s=" in verdict["reason"]
    search = json.loads((tmp_path / "run" / "rounds" / "round-1" / "interpolation.json").read_text())
    assert [p["scale"] for p in search["points"]] == [0.5, 0.25, 0.125, 0.1875, 0.21875, 0.234375]
    assert search["chosen"]["scale"] == second["scale"]
    assert all(p["passed"] == (p["worst_forgetting"] < 5) for p in search["points"])
    # The shipped weights are a model folder transformers loads, at the chosen scale.
    from transformers import AutoModelForCausalLM

    shipped = AutoModelForCausalLM.from_pretrained(second["weights"])
    assert float(shipped.model.norm.weight[0]) - 1.0 == pytest.approx(DAMAGE * second["scale"], abs=1e-6)
    from harness.loop.reporting import render_reports

    render_reports(harness, tmp_path / "run")
    html = (tmp_path / "run" / "report.html").read_text()
    assert "Forgetting against s" in html and "<svg" in html
    markdown = (tmp_path / "run" / "report.md").read_text()
    assert f"{second['scale']:g} (chosen)" in markdown
    assert "Interpolation toward the base" in html and f"s={second['scale']:g}" in html


@pytest.mark.slow
def test_resume_after_the_search_does_not_retrain_or_search_again(marker, tmp_path):
    config, harness = marker({"name": "interpolate", "steps": 3})
    verdict = loop.run(config, harness, tmp_path / "run", progress=False)
    again = loop.run(None, harness, tmp_path / "run", resume=True, progress=False)
    assert MarkerTrainer.calls == 1
    assert again["chosen_round"] == verdict["chosen_round"] == 2


@pytest.mark.slow
def test_sequential_probes_pass_only_when_decided(marker, tmp_path):
    config, harness = marker({"name": "interpolate", "steps": 4},
                             forgetting={"threshold": 5.0, "policy": "sequential"})
    verdict = loop.run(config, harness, tmp_path / "run", progress=False)
    search = json.loads((tmp_path / "run" / "rounds" / "round-1" / "interpolation.json").read_text())
    assert {p["status"] for p in search["points"]} <= {"pass", "fail", "undecided"}
    for point in search["points"]:
        assert point["passed"] == (point["status"] == "pass")
    chosen = verdict["rounds"][-1]
    assert chosen["scale"] is not None and chosen["status"] == "pass"
    assert chosen["scale"] < 0.25  # at or past the true boundary nothing can be decided pass


def test_no_passing_scale_hands_over_to_the_schedule(marker, tmp_path):
    config, harness = marker({"name": "interpolate", "steps": 2, "min_scale": 0.4, "then": "schedule"})
    verdict = loop.run(config, harness, tmp_path / "run", progress=False)
    assert MarkerTrainer.calls == 2  # s = 0.5 failed, 0.25 is under min_scale: retrain at the next share
    assert [r["general_share"] for r in verdict["rounds"]] == [0.2, 0.3]
    decision = json.loads((tmp_path / "run" / "rounds" / "round-1" / "decision.json").read_text())
    assert decision["action"] == "retrain" and "no scale" in decision["reason"] and "schedule" in decision["reason"]


@pytest.mark.parametrize("policy, key", [
    ({"name": "interpolate", "then": "nonesuch"}, "mitigation.policy.then"),
    ({"name": "interpolate", "then": "interpolate"}, "mitigation.policy.then"),
    ({"name": "interpolate", "steps": 0}, "mitigation.policy.steps"),
    ({"name": "interpolate", "choose": "smallest"}, "mitigation.policy.choose"),
])
def test_bad_interpolate_settings_exit_2_naming_the_key(marker, policy, key):
    from harness.config_issues import ConfigError
    from harness.resolve.config_file import load_config

    config, harness = marker(policy)
    with pytest.raises(ConfigError) as error:
        load_config(config, harness)
    assert error.value.exit_code == 2 and key in str(error.value)


def test_a_policy_chain_built_in_code_is_held_to_the_same_rule(marker):
    """build_policy checks the chain with the rule validation uses, so a config that skipped
    validation (built in code) cannot loop forever or hand over to an unknown policy."""
    from harness.errors import UsageError
    from harness.resolve.components import build_policy

    _, harness = marker({"name": "interpolate"})
    with pytest.raises(UsageError, match=r"mitigation.policy.then: 'interpolate' hands over to itself"):
        build_policy(harness, "interpolate", {"then": "interpolate"})
    chained = build_policy(harness, "interpolate", {"then": "schedule"})
    assert type(chained.then).name == "schedule" and chained.then.then is None


def make_marker_harness():
    return load_harness(extra_plugins=[MarkerPlugin()])


@pytest.mark.slow
def test_interpolate_is_a_strategy_in_compare_beside_no_mitigation(marker, tmp_path):
    from harness.strategies.comparison import load_compare, run_comparison
    from harness_plugins.reports.strategies import render_markdown

    run_config, harness = marker({"name": "schedule"})
    compare = tmp_path / "compare.yml"
    compare.write_text(yaml.safe_dump({"base": run_config.name, "strategies": {
        "no_mitigation": {"mitigation": {"schedule": [0.0]}},
        "interpolate": {"mitigation": {"schedule": [0.0], "policy": {"name": "interpolate", "steps": 4, "then": None}}},
    }}))
    summary = run_comparison(load_compare(compare, harness), tmp_path / "cmp", harness_factory=make_marker_harness,
                             progress=False)
    by_name = {s["name"]: s for s in summary["strategies"]}
    assert MarkerTrainer.calls == 2  # one training per strategy; the search trains nothing
    assert not by_name["no_mitigation"]["passed"] and by_name["no_mitigation"].get("scale") is None
    interpolated = by_name["interpolate"]
    assert interpolated["passed"] and 0 < interpolated["scale"] < 0.25
    assert interpolated["cost"]["rounds"] == 1 and interpolated["cost"]["search_seconds"] > 0
    assert summary["recommendation"]["strategy"] == "interpolate"
    assert f"s={interpolated['scale']:g}" in render_markdown(summary)


@pytest.mark.slow
def test_base_assisted_probes_are_steered_by_the_probe_before(marker, tmp_path):
    config, harness = marker({"name": "interpolate", "steps": 4},
                             forgetting={"threshold": 5.0, "policy": "sequential"})
    data = yaml.safe_load(config.read_text())
    data["benchmarks"].update({"first_look": 50, "base_full": True})
    config.write_text(yaml.safe_dump(data))
    verdict = loop.run(config, harness, tmp_path / "run", progress=False)
    search = json.loads((tmp_path / "run" / "rounds" / "round-1" / "interpolation.json").read_text())
    methods = [p["forgetting"]["test_marker_general"]["ci_method"] for p in search["points"]]
    assert any("the previous probe's flips" in m for m in methods), methods  # every probe after the round's
    for point in search["points"]:
        assert point["passed"] == (point["status"] == "pass")
        truth = math.ceil(N_ITEMS * DAMAGE * point["scale"] - 0.5) / N_ITEMS  # the marker's items forgotten
        assert point["status"] != "pass" or truth < 0.05  # no pass where the forgetting is 5% or more
    chosen = verdict["rounds"][-1]
    assert chosen["scale"] is not None and chosen["status"] == "pass" and chosen["scale"] < 0.25
