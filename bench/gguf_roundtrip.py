"""A real model exported to GGUF and read back: file sizes, export time, and item outcomes kept.

Exports SmolLM2-135M-Instruct (the offline asset) as f16 and q8_0, loads each file back
through harness's GGUF loading (transformers' GGUF reader), and scores the same items of
ARC-Easy and SciQ with the original and with each export: how many outcomes are identical.

    .venv/bin/python bench/gguf_roundtrip.py [--items 200] [--out runs/gguf]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="smollm2-135m-instruct")
    parser.add_argument("--items", type=int, default=200, help="items per benchmark")
    parser.add_argument("--out", type=Path, default=Path("runs/gguf"))
    parser.add_argument("--types", nargs="*", default=["f16", "q8_0"])
    args = parser.parse_args()

    from harness.evaluation.scoring import evaluate, instantiate
    from harness.models.gguf_export import export_gguf
    from harness.models.loading import load_model, local_folder, resolve_model
    from harness.plugins import load_harness

    app = load_harness()
    folder = local_folder(resolve_model(args.model))

    def outcomes(spec: str) -> dict[str, dict[str, float]]:
        model = load_model(spec, dtype="float32", fingerprint=False)
        results = evaluate(model, instantiate(app, ["arc_easy", "sciq"]), limit=args.items, seed=0, batch_size=16,
                           cache=False)
        return {name: {item.item_id: item.score for item in result.items} for name, result in results.items()}

    original = outcomes(str(folder))
    for kind in args.types:
        started = time.perf_counter()
        written = export_gguf(folder, args.out / f"{args.model}-{kind}.gguf", kind)
        print(f"{kind}: {written.bytes / 1e6:.1f} MB, {written.tensors} tensors, exported in "
              f"{time.perf_counter() - started:.1f} s", flush=True)
        exported = outcomes(str(written.path))
        for name, scores in original.items():
            same = sum(scores[i] == exported[name][i] for i in scores)
            print(f"  {name}: {same}/{len(scores)} item outcomes identical; accuracy "
                  f"{sum(scores.values()) / len(scores):.3f} -> {sum(exported[name].values()) / len(scores):.3f}",
                  flush=True)


if __name__ == "__main__":
    main()
