"""``harness eval`` vs the lm-eval CLI on the same model, tasks and items.

Both score the offline tasks on the same sampled documents (harness picks them
with its seeded sampler; the CLI gets them as ``--samples``), in the same dtype
and batch size. Prints items/s for each, their ratio, and each task's accuracy
from both (they should agree within 0.5 points).

    nice .venv/bin/python bench/eval_speed.py --limit 50
    nice .venv/bin/python bench/eval_speed.py --tasks offline_arc_easy,offline_sciq --limit 200

The harness number counts model loading plus scoring (its model stays in memory
across benchmarks); the CLI number is the wall time of one ``lm_eval run``
process, which loads the model itself. Results caching is off for the harness.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")


def harness_scores(model_spec: str, tasks: list[str], limit: int, seed: int, batch_size: int, dtype: str):
    """Per-task results from the harness engine, plus load and scoring seconds."""
    from harness.evaluation.scoring import evaluate, instantiate, load_eval_model
    from harness.plugins import load_harness

    harness = load_harness()
    benchmarks = instantiate(harness, tasks)
    start = time.perf_counter()
    model = load_eval_model(model_spec, dtype=dtype)
    loaded = time.perf_counter()
    results = evaluate(model, benchmarks, limit=limit, seed=seed, batch_size=batch_size, cache=False)
    return results, loaded - start, time.perf_counter() - loaded


def lm_eval_cli(model_folder: str, samples: dict[str, list[int]], batch_size: int, dtype: str,
                metrics: dict[str, str]) -> tuple[dict[str, float], float]:
    """Run the lm-eval CLI on exactly these documents; return per-task metric and wall seconds."""
    from harness_plugins.benchmarks.offline_suite import materialize_tasks

    with tempfile.TemporaryDirectory() as out:
        command = [
            str(Path(sys.executable).parent / "lm_eval"), "run", "--model", "hf",
            "--model_args", f"pretrained={model_folder},dtype={dtype}",
            "--tasks", ",".join(samples), "--include_path", str(materialize_tasks()),
            "--samples", json.dumps(samples), "--batch_size", str(batch_size),
            "--output_path", out,
        ]
        start = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True)
        seconds = time.perf_counter() - start
        if done.returncode != 0:
            raise RuntimeError(f"lm_eval failed ({done.returncode}):\n{done.stderr[-3000:]}")
        files = sorted(Path(out).rglob("results_*.json"))
        if not files:
            raise RuntimeError(f"lm_eval wrote no results file under {out}")
        results = json.loads(files[-1].read_text())["results"]
    return {task: results[task][f"{metrics[task]},none"] for task in samples}, seconds


def compare(model_spec: str, tasks: list[str], limit: int, seed: int, batch_size: int, dtype: str) -> dict:
    """Run both and return every number the report needs."""
    from harness.models.loading import local_folder, resolve_model

    results, load_s, score_s = harness_scores(model_spec, tasks, limit, seed, batch_size, dtype)
    samples = {r.extra["task"]: sorted(int(i.item_id) for i in r.items) for r in results.values()}
    metrics = {r.extra["task"]: r.metric for r in results.values()}
    cli, cli_s = lm_eval_cli(local_folder(resolve_model(model_spec)), samples, batch_size, dtype, metrics)
    items = sum(r.n for r in results.values())
    return {
        "items": items,
        "harness_seconds": load_s + score_s,
        "harness_load_seconds": load_s,
        "cli_seconds": cli_s,
        "tasks": {
            r.extra["task"]: {"metric": r.metric, "n": r.n, "harness": r.score * 100, "cli": cli[r.extra["task"]] * 100}
            for r in results.values()
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="smollm2-135m-instruct")
    parser.add_argument("--tasks", default="offline_arc_easy,offline_sciq,offline_piqa,offline_hellaswag,offline_commonsense_qa")
    parser.add_argument("--limit", type=int, default=50)
    parser.add_argument("--seed", type=int, default=1234)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--dtype", default="bfloat16")
    args = parser.parse_args()
    report = compare(args.model, args.tasks.split(","), args.limit, args.seed, args.batch_size, args.dtype)
    print(f"{'task':<26} {'metric':<9} {'n':>5} {'harness':>8} {'lm-eval':>8} {'diff':>6}")
    for task, row in report["tasks"].items():
        print(f"{task:<26} {row['metric']:<9} {row['n']:>5} {row['harness']:>8.2f} {row['cli']:>8.2f} "
              f"{row['harness'] - row['cli']:>+6.2f}")
    h, c, n = report["harness_seconds"], report["cli_seconds"], report["items"]
    print(f"harness eval : {n} items in {h:.1f}s (load {report['harness_load_seconds']:.1f}s) = {n / h:.2f} items/s")
    print(f"lm-eval CLI  : {n} items in {c:.1f}s = {n / c:.2f} items/s")
    print(f"ratio (harness items/s / lm-eval items/s): {c / h:.2f}x")


if __name__ == "__main__":
    main()
