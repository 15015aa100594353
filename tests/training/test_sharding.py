"""Sharded full fine-tuning (fsdp) on two CPU processes: harness's own FSDP2 over gloo.

Two ranks with gradient accumulation 1 train the same global batches as one
process accumulating 2 micro-batches (as in test_distributed.py). Each
micro-batch's forward sees the same weights in both runs, so a step's loss
differs only through the weights, and they differ only by the summation order of
the gradient reduction (FSDP2's reduce-scatter against accumulation): 1e-4 on the
loss and 1e-5 on a weight leave room for that and for nothing else (measured on
the tiny model: equal losses at every step, weights within 1.2e-7).

A killed run resumes from its gathered checkpoint to the uninterrupted run's weights;
the replay is the same sequence of float32 operations, so the tolerance is that of
tests/test_train_resume.py.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml
from safetensors.torch import load_file

from harness.cli import main
from harness.testing import chat_records, write_jsonl
from test_distributed import _env, _free_port, _rows

LOSS_TOLERANCE = 1e-4
WEIGHT_TOLERANCE = 1e-5
STEPS, SAVE_STEPS, KILLED_AFTER = 6, 3, 4

# harness train, with every rank leaving at once after an optimizer step, as a kill would leave it.
KILLER = '''
import dataclasses, os, sys
from transformers import TrainerCallback
import harness.training as training

real_run_training = training.run_training


class Kill(TrainerCallback):
    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step == int(os.environ["KILL_AFTER_STEP"]):
            os._exit(3)


def run_training(request, model, tokenizer, options):
    options = dataclasses.replace(options, callbacks=(*options.callbacks, Kill()))
    return real_run_training(request, model, tokenizer, options)


training.run_training = run_training
from harness.cli import main
sys.exit(main(sys.argv[1:]))
'''


def _config(folder: Path, name: str, model_dir: Path, **overrides) -> Path:
    config = dict(base_model=str(model_dir), dtype="float32", bf16=False, micro_batch_size=4,
                  gradient_accumulation_steps=1, max_steps=STEPS, save_steps=SAVE_STEPS, sequence_len=96,
                  learning_rate=1e-3, max_grad_norm=0.5,  # below the gradients' norm (~3): clipping acts
                  val_set_size=0.0, datasets=[{"path": str(folder / "domain.jsonl")}], seed=0, logging_steps=100,
                  fsdp=["full_shard", "auto_wrap"], output_dir=str(folder / f"out-{name}"))
    config.update(overrides)
    path = folder / f"{name}.yml"
    path.write_text(yaml.safe_dump(config))
    return path


def _launch(folder: Path, *command: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
                           "--master_port", str(_free_port()), *command], cwd=folder, env=_env(**env),
                          capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def runs(tmp_path_factory, tiny_model_dir) -> Path:
    """One process unsharded; two ranks sharded; two ranks killed after step 4, then resumed."""
    folder = tmp_path_factory.mktemp("sharding")
    write_jsonl(folder / "domain.jsonl", chat_records(32))
    one = _config(folder, "one", tiny_model_dir, gradient_accumulation_steps=2, fsdp=None)
    assert main(["train", str(one)]) == 0
    two = _launch(folder, "-m", "harness", "train", str(_config(folder, "two", tiny_model_dir)))
    assert two.returncode == 0, two.stderr[-3000:]  # torchrun: 0 only if both ranks exit 0
    assert two.stdout.count(f"done: {STEPS} steps") == 1  # rank 0 alone reports
    (folder / "killer.py").write_text(KILLER)
    killed = _config(folder, "killed", tiny_model_dir)
    crash = _launch(folder, "killer.py", "train", str(killed), KILL_AFTER_STEP=str(KILLED_AFTER))
    assert crash.returncode != 0 and "done:" not in crash.stdout
    resumed = _launch(folder, "-m", "harness", "train", str(killed), "--resume")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "resuming from" in resumed.stdout and f"checkpoint-{SAVE_STEPS}" in resumed.stdout
    return folder


@pytest.mark.slow
def test_two_sharded_ranks_train_like_one_process_with_the_same_global_batch(runs):
    single, double = _rows(runs / "out-one" / "metrics.jsonl"), _rows(runs / "out-two" / "metrics.jsonl")
    assert [r["step"] for r in double] == list(range(1, STEPS + 1))  # one writer: no line twice
    assert [r["tokens"] for r in double] == [r["tokens"] for r in single]  # both ranks' tokens counted
    for a, b in zip(single, double):
        assert abs(a["loss"] - b["loss"]) < LOSS_TOLERANCE, (a, b)
        # The norm is taken over the DTensor shards of both ranks, as one process takes it over the whole model.
        assert b["grad_norm"] > 0.5 and abs(a["grad_norm"] - b["grad_norm"]) < 1e-4 * a["grad_norm"], (a, b)


@pytest.mark.slow
def test_each_rank_holds_half_the_parameters_and_half_the_optimizer_state(runs):
    held = json.loads((runs / "out-two" / "sharding.json").read_text())
    assert held["processes"] == 2
    total = held["ranks"][0]["parameters_unsharded"]
    assert sum(rank["parameters"] for rank in held["ranks"]) == total
    for rank in held["ranks"]:
        assert abs(rank["parameters"] / total - 0.5) < 0.01
        assert abs(rank["parameter_bytes"] / rank["parameter_bytes_unsharded"] - 0.5) < 0.01
        # AdamW's two float32 moments, of this rank's shards only
        assert rank["optimizer_bytes"] == 2 * rank["parameter_bytes"]
        assert abs(rank["optimizer_bytes"] / rank["optimizer_bytes_unsharded"] - 0.5) < 0.01


@pytest.mark.slow
def test_the_sharded_run_saves_a_plain_model_folder_equal_to_one_process(runs):
    from transformers import AutoModelForCausalLM

    saved = runs / "out-two" / "model"
    model = AutoModelForCausalLM.from_pretrained(saved)
    assert type(model).__name__ == "LlamaForCausalLM"
    a, b = load_file(str(runs / "out-one" / "model" / "model.safetensors")), load_file(str(saved / "model.safetensors"))
    assert a.keys() == b.keys()
    assert max(float((a[k] - b[k]).abs().max()) for k in a) < WEIGHT_TOLERANCE
    assert all(not isinstance(t, torch.Tensor) or type(t) is torch.Tensor for t in b.values())  # no DTensor left
    checkpoints = runs / "out-two" / "checkpoints"
    assert sorted(p.name for p in checkpoints.iterdir()) == [f"checkpoint-{SAVE_STEPS}", f"checkpoint-{STEPS}"]
    for folder in checkpoints.iterdir():
        assert {"COMPLETE", "model.safetensors", "optimizer.pt", "scheduler.pt", "rng_state_0.pth",
                "rng_state_1.pth"} <= {p.name for p in folder.iterdir()}
    assert not list((runs / "out-two").glob(".*"))  # no staging folder left beside the weights
    # The gathered optimizer state is the file one process writes: either run resumes the other's checkpoint.
    one = torch.load(runs / "out-one" / "checkpoints" / f"checkpoint-{SAVE_STEPS}" / "optimizer.pt", weights_only=True)
    two = torch.load(checkpoints / f"checkpoint-{SAVE_STEPS}" / "optimizer.pt", weights_only=True)
    assert [g["params"] for g in one["param_groups"]] == [g["params"] for g in two["param_groups"]]
    for index, moments in one["state"].items():
        for name in ("exp_avg", "exp_avg_sq"):
            torch.testing.assert_close(moments[name], two["state"][index][name], rtol=1e-4, atol=1e-6)


@pytest.mark.slow
def test_a_killed_sharded_run_resumes_to_the_uninterrupted_weights(runs):
    straight = load_file(str(runs / "out-two" / "model" / "model.safetensors"))
    resumed = load_file(str(runs / "out-killed" / "model" / "model.safetensors"))
    assert straight.keys() == resumed.keys()
    for name in straight:
        torch.testing.assert_close(straight[name], resumed[name], rtol=1e-4, atol=1e-6, msg=name)
    rows = _rows(runs / "out-killed" / "metrics.jsonl")
    assert [r["step"] for r in rows] == list(range(1, STEPS + 1))  # each step once, as if it had not stopped
    assert [r["loss"] for r in rows] == pytest.approx([r["loss"] for r in _rows(runs / "out-two" / "metrics.jsonl")])


@pytest.mark.parametrize("settings, env, expected", [
    ({"fsdp": ["full_shard"]}, {}, "start the run with"),  # one process has nothing to shard over
    ({"fsdp": ["full_shard"]}, {"LOCAL_RANK": "0", "WORLD_SIZE": "1"}, "two or more processes"),
    ({"fsdp": ["full_shard"], "fsdp_version": 1}, {"LOCAL_RANK": "0", "WORLD_SIZE": "2"}, "fsdp_version: 1"),
    ({"fsdp": ["full_shard"], "fsdp_config": {"fsdp_activation_checkpointing": True}},
     {"LOCAL_RANK": "0", "WORLD_SIZE": "2"}, "gradient_checkpointing: true"),
    ({"deepspeed": {"zero_optimization": {"stage": 3}}}, {"LOCAL_RANK": "0", "WORLD_SIZE": "2"}, "needs a CUDA GPU"),
])
def test_sharding_that_cannot_run_on_the_cpu_is_refused_with_its_reason(monkeypatch, settings, env, expected):
    from types import SimpleNamespace

    from harness.training.sharding import sharding_problems

    for key in ("LOCAL_RANK", "WORLD_SIZE"):
        monkeypatch.delenv(key, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    problems = sharding_problems(SimpleNamespace(device="cpu", **settings))
    assert any(expected in problem for problem in problems), problems


def test_fsdp_under_a_cpu_launch_of_two_is_accepted(monkeypatch):
    from types import SimpleNamespace

    from harness.training.sharding import sharding_problems

    monkeypatch.setenv("LOCAL_RANK", "0")
    monkeypatch.setenv("WORLD_SIZE", "2")
    config = {"fsdp_offload_params": True, "fsdp_transformer_layer_cls_to_wrap": "LlamaDecoderLayer",
              "fsdp_sync_module_states": True, "fsdp_state_dict_type": "FULL_STATE_DICT"}
    assert sharding_problems(SimpleNamespace(device="cpu", fsdp=["full_shard", "auto_wrap"],
                                             fsdp_config=config)) == []


def test_fsdp_without_a_launcher_stops_the_run_at_its_start(tmp_path, tiny_model_dir, capsys):
    write_jsonl(tmp_path / "domain.jsonl", chat_records(8))
    assert main(["train", str(_config(tmp_path, "alone", tiny_model_dir))]) == 2
    assert "start the run with `accelerate launch" in capsys.readouterr().err
    assert not (tmp_path / "out-alone").exists()  # stopped before any data or weights loaded


@pytest.mark.slow
def test_a_loop_round_trains_sharded_with_the_early_warning_off(tmp_path, tiny_model_dir):
    """harness run under a launch of two with fsdp on the CPU: the early-warning check (one rank scoring
    alone) is turned off with a note, and the round trains, evaluates and writes its verdict."""
    write_jsonl(tmp_path / "domain.jsonl", chat_records(32))
    write_jsonl(tmp_path / "general.jsonl", chat_records(40, "general knowledge", seed=3))
    config = dict(base_model=str(tiny_model_dir), dtype="float32", bf16=False, trainer="full", micro_batch_size=4,
                  max_steps=2, sequence_len=96, learning_rate=1e-4, val_set_size=0.2, eval_steps=1, seed=0,
                  datasets=[{"path": "domain.jsonl"}], fsdp=["full_shard", "auto_wrap"],
                  benchmarks={"suite": None, "general": [{"name": "offline_arc_easy", "limit": 8}],
                              "domain": [{"name": "domain_mc", "limit": 8}], "limit": None, "batch_size": 4},
                  forgetting={"threshold": 5.0, "policy": "point", "bootstrap_samples": 100},
                  mitigation={"mixer": "ratio", "general_data": [{"path": "general.jsonl"}], "schedule": [0.2],
                              "policy": "schedule", "max_rounds": 1},
                  reporters=[], samples={"domain": 0, "general": [], "max_new_tokens": 8})
    (tmp_path / "run.yml").write_text(yaml.safe_dump(config))
    launched = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
                               "--master_port", str(_free_port()), "-m", "harness", "run", "run.yml",
                               "--run-dir", "run"], cwd=tmp_path, capture_output=True, text=True, timeout=900,
                              env=_env(HARNESS_CACHE=str(tmp_path / "cache")))
    output = launched.stdout + launched.stderr
    assert "the forgetting early warning is off under fsdp" in output, output[-3000:]
    verdict = json.loads((tmp_path / "run" / "verdict.json").read_text())
    assert verdict["status"] in ("pass", "fail", "undecided") and (tmp_path / "run" / "rounds" / "round-1"
                                                                    / "COMPLETE").is_file()
