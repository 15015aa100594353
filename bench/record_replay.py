"""Record real per-item outcomes on whole benchmarks, for replaying sequential verdicts over them.

Scores the base and each candidate on every item of each benchmark (through the result
cache, so the base is scored once however often this runs) and writes, per model and
benchmark, ``DIR/MODEL/BENCHMARK.json``: ``{"metric", "higher_is_better", "items": [[id,
score, chance, margin], ...]}``. A candidate is ``NAME=ADAPTER_DIR`` or
``NAME=ADAPTER_DIR@SCALE`` (a LoRA adapter scaled toward the base, as the interpolation
policy's probes are).

    .venv/bin/python bench/record_replay.py --out runs/replay \\
        --candidate round1=runs/demo/rounds/round-1/train/adapter \\
        --candidate round1_half=runs/demo/rounds/round-1/train/adapter@0.5

``bench/sequential_verdicts.py --replay runs/replay`` then replays thousands of sequential
runs over these outcomes.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

BENCHMARKS = ["offline_arc_easy", "offline_sciq", "offline_piqa", "offline_commonsense_qa"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--base", default="smollm2-135m-instruct")
    parser.add_argument("--candidate", action="append", default=[], metavar="NAME=ADAPTER[@SCALE]")
    parser.add_argument("--benchmarks", nargs="*", default=BENCHMARKS)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--limit", type=int, help="items per benchmark (a quick check; default all)")
    args = parser.parse_args()

    from harness.evaluation.scoring import Scorer, instantiate, load_eval_model, take_items
    from harness.models.interpolation import write_scaled_adapter
    from harness.plugins import load_harness

    harness = load_harness()
    benchmarks = instantiate(harness, args.benchmarks)
    models = [("base", None, None)]
    for spec in args.candidate:
        name, _, where = spec.partition("=")
        adapter, _, scale = where.partition("@")
        models.append((name, Path(adapter), float(scale) if scale else None))
    with tempfile.TemporaryDirectory() as scratch:
        for name, adapter, scale in models:
            if adapter is not None and scale is not None:
                adapter = write_scaled_adapter(adapter, scale, Path(scratch) / f"{name}")
            started = time.perf_counter()
            scorer = Scorer(lambda a=adapter: load_eval_model(args.base, adapter=a, dtype="auto"),
                            batch_size=args.batch_size)
            for benchmark in benchmarks:
                ids = take_items(benchmark, args.limit, 0)
                result = scorer.score(benchmark, ids)
                by_id = {i.item_id: i for i in result.items}
                folder = args.out / name
                folder.mkdir(parents=True, exist_ok=True)
                (folder / f"{benchmark.name}.json").write_text(json.dumps({
                    "metric": result.metric, "higher_is_better": benchmark.higher_is_better,
                    "items": [[i, by_id[i].score, by_id[i].chance, by_id[i].margin] for i in ids]}))
                print(f"{name:<14} {benchmark.name:<24} n={len(ids):<5} score {result.score:.3f}", flush=True)
            print(f"{name}: {time.perf_counter() - started:.0f} s", flush=True)


if __name__ == "__main__":
    main()
