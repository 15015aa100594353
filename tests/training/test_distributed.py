"""Two ranks on CPU (gloo): `harness train` and `harness run` under a launcher.

Two ranks with gradient accumulation 1 train the same global batches as one
process accumulating 2 micro-batches, so their losses and weights agree up to
float32 summation order. Only rank 0 writes: the folders hold each file once,
complete, and the other rank prints nothing of the loop.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from safetensors.torch import load_file

from harness.cli import main
from harness.testing import chat_records, write_jsonl

pytestmark = pytest.mark.slow

# Same batches, different summation order (DDP averages two half-batch gradients).
LOSS_TOLERANCE = 1e-4
WEIGHT_TOLERANCE = 1e-5


def _config(tmp_path: Path, name: str, model_dir: Path, **overrides) -> Path:
    config = dict(base_model=str(model_dir), dtype="float32", bf16=False, adapter="lora", lora_r=4, lora_alpha=8,
                  lora_dropout=0.0, micro_batch_size=4, gradient_accumulation_steps=1, max_steps=6, save_steps=3,
                  sequence_len=96, learning_rate=5e-3, val_set_size=0.0, datasets=[{"path": "domain.jsonl"}],
                  seed=0, logging_steps=100, output_dir=f"out-{name}")
    config.update(overrides)
    path = tmp_path / f"{name}.yml"
    path.write_text(yaml.safe_dump(config))
    return path


def _env(**extra: str) -> dict[str, str]:
    import harness

    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", **extra}
    # The ranks run the harness these tests import, wherever it was found.
    env["PYTHONPATH"] = os.pathsep.join([str(Path(harness.__file__).parents[1]), env.get("PYTHONPATH", "")])
    return env


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rows(metrics: Path) -> list[dict]:
    return [json.loads(line) for line in metrics.read_text().splitlines()]


def test_two_ranks_train_like_one_process_with_the_same_global_batch(tmp_path, tiny_model_dir, monkeypatch):
    write_jsonl(tmp_path / "domain.jsonl", chat_records(32))
    monkeypatch.chdir(tmp_path)
    one = _config(tmp_path, "one", tiny_model_dir, gradient_accumulation_steps=2)
    two = _config(tmp_path, "two", tiny_model_dir)
    assert main(["train", str(one)]) == 0
    launched = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
                               "--master_port", str(_free_port()), "-m", "harness", "train", str(two)],
                              cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=600)
    assert launched.returncode == 0, launched.stderr[-3000:]  # torchrun: 0 only if both ranks exit 0
    assert launched.stdout.count("done: 6 steps") == 1  # rank 0 alone reports

    single, double = _rows(tmp_path / "out-one" / "metrics.jsonl"), _rows(tmp_path / "out-two" / "metrics.jsonl")
    assert [r["step"] for r in double] == [1, 2, 3, 4, 5, 6]  # one writer: no line twice
    assert [r["tokens"] for r in double] == [r["tokens"] for r in single]  # both ranks' tokens counted
    for a, b in zip(single, double):
        assert abs(a["loss"] - b["loss"]) < LOSS_TOLERANCE, (a, b)
    a = load_file(str(tmp_path / "out-one" / "adapter" / "adapter_model.safetensors"))
    b = load_file(str(tmp_path / "out-two" / "adapter" / "adapter_model.safetensors"))
    assert max(float((a[k] - b[k]).abs().max()) for k in a) < WEIGHT_TOLERANCE

    checkpoints = tmp_path / "out-two" / "checkpoints"
    assert sorted(p.name for p in checkpoints.iterdir()) == ["checkpoint-3", "checkpoint-6"]  # no staging left
    for folder in checkpoints.iterdir():
        assert {"COMPLETE", "rng_state_0.pth", "rng_state_1.pth", "optimizer.pt"} <= {p.name for p in folder.iterdir()}
        json.loads((folder / "trainer_state.json").read_text())
    assert not list((tmp_path / "out-two").glob(".*"))  # no temporary files left beside the weights


def test_two_ranks_run_a_round_of_the_loop_with_rank_0_alone_writing(tmp_path, tiny_model_dir):
    write_jsonl(tmp_path / "domain.jsonl", chat_records(32))
    write_jsonl(tmp_path / "general.jsonl", chat_records(40, "general knowledge", seed=3))
    config = _config(
        tmp_path, "loop", tiny_model_dir, max_steps=4, save_steps=None,
        benchmarks={"suite": None, "general": [{"name": "offline_arc_easy", "limit": 8}],
                    "domain": [{"name": "domain_mc", "limit": 8}], "limit": None, "batch_size": 4},
        forgetting={"threshold": 5.0, "policy": "point", "bootstrap_samples": 100},
        mitigation={"mixer": "ratio", "general_data": [{"path": "general.jsonl"}], "schedule": [0.2],
                    "policy": "schedule", "max_rounds": 1},
        reporters=["markdown"], samples={"domain": 0, "general": [], "max_new_tokens": 8})
    config_data = yaml.safe_load(config.read_text())
    del config_data["output_dir"]
    config.write_text(yaml.safe_dump(config_data))
    run_dir = tmp_path / "run"
    port = str(_free_port())
    # What torchrun does, by hand, so each rank's exit code can be read.
    ranks = [subprocess.Popen([sys.executable, "-m", "harness", "run", str(config), "--run-dir", str(run_dir)],
                              cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              env=_env(RANK=str(r), LOCAL_RANK=str(r), WORLD_SIZE="2", LOCAL_WORLD_SIZE="2",
                                       MASTER_ADDR="127.0.0.1", MASTER_PORT=port, HARNESS_CACHE=str(tmp_path / "cache")))
             for r in range(2)]
    outputs = [rank.communicate(timeout=900) for rank in ranks]
    codes = [rank.returncode for rank in ranks]

    from harness.evaluation.gate import EXIT_CODES

    verdict = json.loads((run_dir / "verdict.json").read_text())
    assert codes == [EXIT_CODES[verdict["status"]], 0], outputs[0][0][-3000:] + outputs[1][0][-3000:]
    assert "round 1" in outputs[0][0] and "round 1" not in outputs[1][0] and "report:" not in outputs[1][0]
    round_dir = run_dir / "rounds" / "round-1"
    assert sorted(p.name for p in (run_dir / "rounds").iterdir()) == ["round-1"]
    assert (round_dir / "COMPLETE").is_file()
    for path in run_dir.rglob("*.json"):
        json.loads(path.read_text())  # complete, readable
    assert not list(run_dir.rglob(".*"))  # no half-written temporary or staging files
    rows = _rows(round_dir / "train" / "metrics.jsonl")
    assert [r["step"] for r in rows if r["type"] == "train"] == [1, 2, 3, 4]
    final = round_dir / "train" / "checkpoints" / "checkpoint-4"
    assert {"rng_state_0.pth", "rng_state_1.pth"} <= {p.name for p in final.iterdir()}  # both ranks trained
    assert (run_dir / "report.md").is_file()
