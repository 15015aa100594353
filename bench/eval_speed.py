"""Harness's lm-eval scoring vs the lm-eval CLI: same model, tasks, items, dtype and batch size.

For each task the same seeded documents are scored twice, each in a process of
its own, one after the other:

- harness: this script as a worker; it loads the model the way harness does and
  scores with harness's lm-eval backend (``PrefixLM``: each context runs once for
  all its choices) through ``lm_eval.evaluator.evaluate``;
- lm-eval: ``lm_eval run --model hf ... --samples ... --log_samples``.

Printed per task and overall: items/s of each, end to end (process start to
exit: imports, model and task loading, scoring) and scoring only (the
log-likelihood loop, read from each side's own "Running loglikelihood requests"
progress bar), their ratios, and how many items' per-item outcome (acc or
acc_norm) differs between the two, matched by doc_id.

    nice .venv/bin/python bench/eval_speed.py                     # 200 items per task, bfloat16
    nice .venv/bin/python bench/eval_speed.py --dtype float32
    nice .venv/bin/python bench/eval_speed.py --tasks offline_sciq,offline_hellaswag --limit 50
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

GENERAL_SMALL = "offline_arc_easy,offline_sciq,offline_piqa,offline_hellaswag,offline_commonsense_qa"
FEWSHOT_SEED = 1234  # lm-eval's default, and harness's
_BAR = re.compile(r"Running loglikelihood requests: 100%\|[^|\r\n]*\|\s*(\d+)/(\d+) \[([\d:]+)<")


@dataclass
class Side:
    """One side's run of one task."""

    seconds: float  # process wall time
    scoring_seconds: float | None  # the log-likelihood loop, from its progress bar
    outcomes: dict[int, tuple[float, float]]  # doc_id -> (acc, acc_norm)


@dataclass
class TaskReport:
    task: str
    metric: str  # the metric harness reports for this task
    harness: Side
    cli: Side
    differing: list[int] = field(default_factory=list)  # doc_ids whose acc or acc_norm differ

    @property
    def n(self) -> int:
        return len(self.harness.outcomes)

    def score(self, side: Side) -> float:
        column = 1 if self.metric == "acc_norm" else 0
        return 100 * sum(o[column] for o in side.outcomes.values()) / len(side.outcomes)


# ------------------------------------------------------------------ harness side (worker process)


def worker(model_spec: str, task: str, doc_ids: list[int], dtype: str, device: str, batch_size: int,
           out_file: Path) -> None:
    """Score ``doc_ids`` of ``task`` the way harness's lm_eval benchmarks do; write per-item outcomes."""
    import logging

    from lm_eval.evaluator import evaluate

    from harness.models.loading import load_model
    from harness_plugins.benchmarks.lm_eval_tasks import _hflm

    logging.getLogger("lm_eval").setLevel(logging.WARNING)
    model = load_model(model_spec, dtype=dtype, device=device, fingerprint=False)
    # The plugin's own task loading (its TaskManager) and backend, so the timing is harness's.
    leaf = zero_shot_task(task)
    out = evaluate(lm=_hflm(model, batch_size), task_dict={"tasks": {task: leaf}, "groups": {}},
                   samples={task: doc_ids}, bootstrap_iters=0, log_samples=True, verbosity="WARNING")
    outcomes = {r["doc_id"]: (r["acc"], r["acc_norm"]) for r in out["samples"][task]}
    out_file.write_text(json.dumps(outcomes))


def zero_shot_task(task: str):
    """``task`` loaded as harness's lm_eval benchmark plugin loads it: zero-shot, lm-eval's few-shot seed."""
    from harness_plugins.benchmarks.lm_eval_tasks import _loaded_leaves
    from harness_plugins.benchmarks.offline_suite import materialize_tasks

    leaf = _loaded_leaves(task, (str(materialize_tasks()),))[task]
    leaf.set_config(key="num_fewshot", value=0)
    leaf.set_fewshot_seed(seed=FEWSHOT_SEED)
    return leaf


def run_harness(model_spec: str, task: str, doc_ids: list[int], dtype: str, device: str, batch_size: int) -> Side:
    with tempfile.TemporaryDirectory() as tmp:
        out_file = Path(tmp) / "outcomes.json"
        command = [sys.executable, __file__, "--worker", "--model", model_spec, "--tasks", task,
                   "--doc-ids", ",".join(map(str, doc_ids)), "--dtype", dtype, "--device", device,
                   "--batch-size", str(batch_size), "--out", str(out_file)]
        seconds, stderr = _timed(command)
        outcomes = {int(k): tuple(v) for k, v in json.loads(out_file.read_text()).items()}
    return Side(seconds, _scoring_seconds(stderr), outcomes)


# ------------------------------------------------------------------ lm-eval CLI side


def run_cli(model_folder: str, task: str, doc_ids: list[int], dtype: str, device: str, batch_size: int) -> Side:
    from harness_plugins.benchmarks.offline_suite import materialize_tasks

    with tempfile.TemporaryDirectory() as out:
        command = [
            str(Path(sys.executable).parent / "lm_eval"), "run", "--model", "hf",
            "--model_args", f"pretrained={model_folder},dtype={dtype}", "--device", device,
            "--tasks", task, "--include_path", str(materialize_tasks()),
            "--samples", json.dumps({task: doc_ids}), "--batch_size", str(batch_size),
            "--output_path", out, "--log_samples",
        ]
        seconds, stderr = _timed(command)
        files = sorted(Path(out).rglob(f"samples_{task}_*.jsonl"))
        if not files:
            raise RuntimeError(f"lm_eval wrote no samples for {task} under {out}")
        records = [json.loads(line) for line in files[-1].read_text().splitlines() if line.strip()]
    return Side(seconds, _scoring_seconds(stderr), {r["doc_id"]: (r["acc"], r["acc_norm"]) for r in records})


def _timed(command: list[str]) -> tuple[float, str]:
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{Path(command[1]).name} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return seconds, done.stderr


def _scoring_seconds(stderr: str) -> float | None:
    """Elapsed time of the finished log-likelihood progress bar (tqdm's 'MM:SS' or 'H:MM:SS')."""
    found = _BAR.findall(stderr)
    if not found:
        return None
    seconds = 0
    for part in found[-1][2].split(":"):
        seconds = seconds * 60 + int(part)
    return float(seconds)


# ------------------------------------------------------------------ both


def sample_doc_ids(tasks: list[str], limit: int, seed: int) -> dict[str, list[int]]:
    """The same seeded documents harness's benchmark plugin would pick (its sampler, over doc indices)."""
    from lm_eval.tasks import TaskManager

    from harness.evaluation.scoring import sample_item_ids
    from harness_plugins.benchmarks.offline_suite import materialize_tasks

    # Loading the data here also prepares the datasets cache both sides then read.
    loaded = TaskManager(include_path=str(materialize_tasks()), include_defaults=False).load(tasks)["tasks"]
    return {task: sorted(int(i) for i in sample_item_ids([str(d) for d in range(len(loaded[task].eval_docs))],
                                                         limit, seed))
            for task in tasks}


def compare(model_spec: str, tasks: list[str], limit: int, seed: int, batch_size: int, dtype: str,
            device: str = "cpu", log=None) -> dict:
    """Run both sides on every task; return the per-task reports and the numbers the table needs."""
    from harness.models.loading import local_folder, resolve_model
    from harness_plugins.benchmarks.lm_eval_specs import default_metric, read_task
    from harness_plugins.benchmarks.offline_suite import materialize_tasks

    folder = local_folder(resolve_model(model_spec))  # converts a GGUF once, before any timing
    reports = []
    for task, doc_ids in sample_doc_ids(tasks, limit, seed).items():
        harness = run_harness(model_spec, task, doc_ids, dtype, device, batch_size)
        cli = run_cli(folder, task, doc_ids, dtype, device, batch_size)
        if set(harness.outcomes) != set(cli.outcomes):
            raise RuntimeError(f"{task}: the two sides scored different documents")
        metric = default_metric(task, read_task(task, (str(materialize_tasks()),)))
        report = TaskReport(task, metric, harness, cli,
                            sorted(d for d in doc_ids if harness.outcomes[d] != cli.outcomes[d]))
        reports.append(report)
        if log:
            log(_row(report))
    return {
        "reports": reports,
        "items": sum(r.n for r in reports),
        "harness_seconds": sum(r.harness.seconds for r in reports),
        "cli_seconds": sum(r.cli.seconds for r in reports),
        # What the earlier version of this script returned (tests/test_eval_lm_eval_cli.py reads it).
        "tasks": {r.task: {"metric": r.metric, "n": r.n, "harness": r.score(r.harness), "cli": r.score(r.cli),
                           "differing": len(r.differing)} for r in reports},
    }


# ------------------------------------------------------------------ printing

_HEADER = (f"{'task':<24} {'n':>4} | {'end to end: harness':>19} {'lm-eval':>9} {'ratio':>6} | "
           f"{'scoring only: harness':>21} {'lm-eval':>9} {'ratio':>6} | {'metric':<8} {'harness':>7} "
           f"{'lm-eval':>7} | differ")


def _rate(items: int, seconds: float | None) -> str:
    return f"{items / seconds:7.2f}/s" if seconds else "    n/a  "


def _ratio(harness: float | None, cli: float | None) -> str:
    return f"{cli / harness:5.2f}x" if harness and cli else "   n/a"


def _row(r: TaskReport) -> str:
    return (f"{r.task:<24} {r.n:>4} | {_rate(r.n, r.harness.seconds):>19} {_rate(r.n, r.cli.seconds):>9} "
            f"{_ratio(r.harness.seconds, r.cli.seconds):>6} | {_rate(r.n, r.harness.scoring_seconds):>21} "
            f"{_rate(r.n, r.cli.scoring_seconds):>9} {_ratio(r.harness.scoring_seconds, r.cli.scoring_seconds):>6} | "
            f"{r.metric:<8} {r.score(r.harness):>7.1f} {r.score(r.cli):>7.1f} | {len(r.differing)}"
            + (f"  (doc_ids {', '.join(map(str, r.differing))})" if r.differing else ""))


def _total(reports: list[TaskReport]) -> str:
    n = sum(r.n for r in reports)
    h, c = sum(r.harness.seconds for r in reports), sum(r.cli.seconds for r in reports)
    scored = [r for r in reports if r.harness.scoring_seconds and r.cli.scoring_seconds]
    hs = sum(r.harness.scoring_seconds for r in scored) if scored else None
    cs = sum(r.cli.scoring_seconds for r in scored) if scored else None
    scored_n = sum(r.n for r in scored)
    return (f"{'all tasks':<24} {n:>4} | {_rate(n, h):>19} {_rate(n, c):>9} {_ratio(h, c):>6} | "
            f"{_rate(scored_n, hs):>21} {_rate(scored_n, cs):>9} {_ratio(hs, cs):>6} | {'':<8} {'':>7} {'':>7} | "
            f"{sum(len(r.differing) for r in reports)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="smollm2-135m-instruct")
    parser.add_argument("--tasks", default=GENERAL_SMALL)
    parser.add_argument("--limit", type=int, default=200, help="documents per task")
    parser.add_argument("--seed", type=int, default=1234)
    parser.add_argument("--batch-size", type=int, default=8, help="lm-eval's batch size (both sides)")
    parser.add_argument("--dtype", default="bfloat16")
    parser.add_argument("--device", default=None, help="default: cuda if available, else cpu")
    parser.add_argument("--threads", type=int, help="CPU threads for both sides (OMP_NUM_THREADS; default: torch's)")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--doc-ids", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.threads:
        os.environ["OMP_NUM_THREADS"] = str(args.threads)  # inherited by both sides' processes
    if args.device is None:
        from harness.models.loading import pick_device

        args.device = pick_device("auto")
    if args.worker:
        worker(args.model, args.tasks, [int(d) for d in args.doc_ids.split(",")], args.dtype, args.device,
               args.batch_size, Path(args.out))
        return

    import torch

    from harness.evaluation.prefix import DEFAULT_MAX_BATCH_TOKENS

    print(f"model {args.model}, dtype {args.dtype}, device {args.device}, batch size {args.batch_size}, "
          f"harness max_batch_tokens {DEFAULT_MAX_BATCH_TOKENS}, torch threads {torch.get_num_threads()}, "
          f"{args.limit} documents per task (seed {args.seed})")
    print("end to end = process start to exit (imports, model and task loading, scoring); "
          "scoring only = the 'Running loglikelihood requests' loop; ratio = harness items/s / lm-eval items/s")
    print(_HEADER, flush=True)
    report = compare(args.model, args.tasks.split(","), args.limit, args.seed, args.batch_size, args.dtype,
                     args.device, log=lambda line: print(line, flush=True))
    print(_total(report["reports"]))


if __name__ == "__main__":
    main()
