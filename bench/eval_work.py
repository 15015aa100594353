"""How much of lm-eval's compute exact shared-prefix scoring can skip: the ceiling of any exact speed-up.

``bench/eval_speed.py`` times harness against the lm-eval CLI. This script says
how far the time ratio *could* go where the hardware is compute-bound (a CPU:
matrix multiplication runs near the cores' peak on both sides). For each task,
on the same seeded documents and tokenised requests, it counts the matrix
multiplication FLOPs (``torch.utils.flop_counter``) of

- lm-eval's ``HFLM`` scoring (batch size 8): every request's context and
  continuation through the model, every position projected onto the vocabulary;
- harness's ``score_continuations``: each distinct context once, continuations
  as token tries over its cached keys/values, vocabulary projections only where
  a continuation token is predicted (padding included, as it runs);
- the minimum any exact scorer needs: each distinct context token and each
  distinct trie node once through the decoder, each node once through the
  vocabulary projection, no padding (attention left out, a few percent here).

A continuation token cannot be skipped (its log-probability needs the decoder
and the full vocabulary at its position), so ``HFLM / minimum`` bounds the
speed-up of exact scoring on compute-bound hardware; tasks whose choices are
long and share little (HellaSwag, PIQA) gain least.

    nice .venv/bin/python bench/eval_work.py                  # 50 documents per task
    nice .venv/bin/python bench/eval_work.py --limit 200 --tasks offline_sciq
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

from eval_speed import GENERAL_SMALL, sample_doc_ids, zero_shot_task  # noqa: E402


def tokenised_requests(hflm, task: str, doc_ids: list[int]) -> list:
    """The (key, context ids, continuation ids) requests lm-eval builds for ``doc_ids`` of ``task``."""
    leaf = zero_shot_task(task)
    leaf.build_all_requests(samples=doc_ids, rank=0, world_size=1)
    captured: list = []

    def capture(requests, **_):
        captured.extend(requests)
        return [(0.0, False)] * len(requests)

    # Tokenisation is HFLM's own; stop it right before scoring and keep what it would score.
    hflm._loglikelihood_tokens = capture
    try:
        hflm.loglikelihood(leaf.instances, disable_tqdm=True)
    finally:
        del hflm._loglikelihood_tokens  # the class's method again
    return captured


def matmul_flops(run) -> int:
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        run()
    return counter.get_total_flops()


def minimum_flops(model, pairs: list, max_length: int) -> int:
    """Each distinct context token and trie node once through the decoder; each node once through the head."""
    from harness.evaluation.prefix_plan import Row, group_by_context

    config = model.config
    head = 2 * config.vocab_size * config.hidden_size
    decoder = 2 * sum(m.weight.numel() for name, m in model.get_decoder().named_modules()
                      if hasattr(m, "weight") and m.weight is not None and m.weight.dim() == 2
                      and not name.endswith("embed_tokens"))
    context_tokens = nodes = 0
    for ctx in group_by_context(pairs, max_length):
        row = Row(0, ctx.tokens[-1])
        for request in ctx.requests:
            row.add(request, list(pairs[request][1]))
        context_tokens += ctx.prefix_length
        nodes += row.length
    return context_tokens * decoder + nodes * (decoder + head)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="smollm2-135m-instruct")
    parser.add_argument("--tasks", default=GENERAL_SMALL)
    parser.add_argument("--limit", type=int, default=50, help="documents per task")
    parser.add_argument("--seed", type=int, default=1234)
    parser.add_argument("--batch-size", type=int, default=8, help="lm-eval's batch size")
    parser.add_argument("--dtype", default="bfloat16", help="FLOPs do not depend on it; bfloat16 runs faster")
    args = parser.parse_args()
    logging.getLogger("lm_eval").setLevel(logging.ERROR)

    from lm_eval.models.huggingface import HFLM

    from harness.evaluation.prefix import score_continuations
    from harness.models.loading import load_model

    model = load_model(args.model, dtype=args.dtype, device="cpu", fingerprint=False)
    hflm = HFLM(pretrained=model.model, tokenizer=model.tokenizer, batch_size=args.batch_size)
    print(f"model {args.model}, {args.limit} documents per task (seed {args.seed}), lm-eval batch size "
          f"{args.batch_size}; matmul GFLOPs per item")
    print(f"{'task':<24} {'requests':>8} | {'lm-eval':>8} {'harness':>8} {'minimum':>8} | "
          f"{'lm-eval/harness':>15} {'lm-eval/minimum':>15}")
    totals = [0, 0, 0]
    for task, doc_ids in sample_doc_ids(args.tasks.split(","), args.limit, args.seed).items():
        requests = tokenised_requests(hflm, task, doc_ids)
        pairs = [(context, continuation) for _, context, continuation in requests]
        lm_eval = matmul_flops(lambda: hflm._loglikelihood_tokens(requests, disable_tqdm=True))
        harness = matmul_flops(lambda: score_continuations(model.model, pairs, max_length=hflm.max_length))
        least = minimum_flops(model.model, pairs, hflm.max_length)
        for i, flops in enumerate((lm_eval, harness, least)):
            totals[i] += flops
        n = len(doc_ids)
        print(f"{task:<24} {len(requests):>8} | {lm_eval / n / 1e9:>8.1f} {harness / n / 1e9:>8.1f} "
              f"{least / n / 1e9:>8.1f} | {lm_eval / harness:>14.2f}x {lm_eval / least:>14.2f}x", flush=True)
    print(f"{'all tasks':<24} {'':>8} | {'':>8} {'':>8} {'':>8} | {totals[0] / totals[1]:>14.2f}x "
          f"{totals[0] / totals[2]:>14.2f}x")


if __name__ == "__main__":
    main()
