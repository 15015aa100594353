"""Killed runs resume to the same weights; non-finite losses stop a run cleanly."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file
from transformers import TrainerCallback

from harness import TrainRequest
from harness.training import EngineOptions, TrainingStopped, attach_lora, load_for_training, run_training
from harness.training.checkpoints import MARKER, STAGING, complete_checkpoints
from train_helpers import examples, settings


class Crash(RuntimeError):
    pass


class CrashAfterStep(TrainerCallback):
    """Simulates a kill: raises once ``step`` optimizer steps have finished."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step == self.step:
            raise Crash(f"killed after step {state.global_step}")


def _run(tmp_path, model_dir, name, *, resume=False, callbacks=(), forward_hook=None, **overrides):
    config = settings(model_dir, **{"max_steps": 8, "save_steps": 3, **overrides})
    model, tokenizer = load_for_training(config, frozen=True)
    if forward_hook is not None:
        model.lm_head.register_forward_hook(forward_hook)
    model = attach_lora(model, config)
    data = examples(14)  # 4 steps per epoch, the last batch short: resume lands mid-epoch
    request = TrainRequest(config=config, train=data, validation=[], output_dir=tmp_path / name, resume=resume)
    return run_training(request, model, tokenizer, EngineOptions(is_adapter=True, callbacks=tuple(callbacks)))


def _weights(folder):
    return load_file(str(folder / "adapter_model.safetensors"))


@pytest.mark.slow
def test_a_killed_run_resumes_to_the_same_weights(tmp_path, tiny_model_dir):
    straight = _run(tmp_path, tiny_model_dir, "straight")
    with pytest.raises(Crash):
        _run(tmp_path, tiny_model_dir, "killed", callbacks=[CrashAfterStep(5)])
    ckpts = tmp_path / "killed" / "checkpoints"
    assert [p.name for p in complete_checkpoints(ckpts)] == ["checkpoint-3"]
    # What a kill during a save leaves: a staging folder and a marker-less checkpoint.
    (ckpts / STAGING / "checkpoint-6").mkdir(parents=True)
    (ckpts / "checkpoint-6").mkdir()
    (ckpts / "checkpoint-6" / "adapter_model.safetensors").write_bytes(b"partial")
    resumed = _run(tmp_path, tiny_model_dir, "killed", resume=True)
    assert resumed.steps == straight.steps == 8
    a, b = _weights(straight.weights_dir), _weights(resumed.weights_dir)
    assert a.keys() == b.keys()
    for name in a:
        torch.testing.assert_close(a[name], b[name], rtol=1e-4, atol=1e-6, msg=name)
    # The metrics file holds each step once, as if the run had not stopped.
    steps = [json.loads(line)["step"] for line in resumed.metrics_file.read_text().splitlines()
             if '"train"' in line]
    assert steps == list(range(1, 9))


@pytest.mark.slow
def test_non_finite_losses_stop_the_run_and_keep_the_last_good_checkpoint(tmp_path, tiny_model_dir):
    calls = {"n": 0}

    def poison_after_four_steps(module, inputs, output):
        if module.training:
            calls["n"] += 1
            if calls["n"] > 4:
                return output * float("nan")
        return output

    with pytest.raises(TrainingStopped, match="non-finite") as stopped:
        _run(tmp_path, tiny_model_dir, "nan", forward_hook=poison_after_four_steps, save_steps=2, max_bad_steps=3)
    ckpts = tmp_path / "nan" / "checkpoints"
    assert [p.name for p in complete_checkpoints(ckpts)] == ["checkpoint-2", "checkpoint-4"]
    assert "checkpoint-4" in str(stopped.value)
    good = _weights(ckpts / "checkpoint-4")
    assert (ckpts / "checkpoint-4" / MARKER).is_file()
    assert all(torch.isfinite(t).all() for t in good.values())
    rows = [json.loads(line) for line in (tmp_path / "nan" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows if r.get("skipped")] == [5, 6, 7]
    assert not (tmp_path / "nan" / "adapter").exists()


@pytest.mark.slow
def test_resume_from_checkpoint_continues_another_runs_checkpoint_to_the_same_weights(tmp_path, tiny_model_dir):
    """Axolotl's resume_from_checkpoint: a fresh output folder, training continued from a given checkpoint."""
    straight = _run(tmp_path, tiny_model_dir, "straight")
    with pytest.raises(Crash):
        _run(tmp_path, tiny_model_dir, "elsewhere", callbacks=[CrashAfterStep(5)])
    checkpoint = tmp_path / "elsewhere" / "checkpoints" / "checkpoint-3"
    continued = _run(tmp_path, tiny_model_dir, "continued", resume_from_checkpoint=str(checkpoint))
    assert continued.steps == straight.steps == 8
    rows = [json.loads(line) for line in continued.metrics_file.read_text().splitlines() if line.strip()]
    assert min(r["step"] for r in rows if r.get("type") == "train") == 4  # steps 1-3 came from the checkpoint
    a, b = _weights(straight.weights_dir), _weights(continued.weights_dir)
    assert a.keys() == b.keys() and all(torch.allclose(a[k], b[k], atol=1e-6) for k in a)
    with pytest.raises(Exception, match="not a training checkpoint"):
        _run(tmp_path, tiny_model_dir, "bad", resume_from_checkpoint=str(tmp_path))
