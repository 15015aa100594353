"""The Python half of ``bench/gpu_check.sh``: each section's measurement, and the summary table.

Every subcommand appends one JSON line per measurement to a results file, so a
section that fails or times out costs only its own line (the shell records it).

    train        LoRA (bf16) / QLoRA (NF4) / full fine-tuning through the real trainer
                 plugins (what `harness train` runs), on SmolLM2-135M or a randomly
                 initialised Llama-3.1-8B-shaped model; useful tokens/s, MFU, peak memory
                 (--plan: the memory plan first, skipped where it says it cannot fit;
                 the peak then beside the plan)
    loop-config  a one-round `harness run` config (the demo's, cut to one round)
    loop-result  that run's stage times and verdict
    eval-result  bench/eval_speed.py's totals (shared-prefix scoring vs the lm-eval CLI)
    record       a section's failure, timeout or skip
    summary      the table

MFU counts model FLOPs per token, not hardware FLOPs (recomputation is not counted),
as in PaLM (appendix B): N is the weights of every matmul (all layers and the LM head,
not the input embedding), s the padded sequence length, L layers, d = heads × head_dim:

    full fine-tuning   6·N + 12·L·d·s
    LoRA and QLoRA     4·N + 6·N_lora + 12·L·d·s   (frozen weights: forward and input
                                                    gradients, no weight gradients)

against the card's dense bf16 peak. Timed steps skip the first (warm-up) steps; tokens
are the engine's own per-step counts (metrics.jsonl), real and padded.

``--tiny`` runs every section on CPU with harness's tiny random Llama (QLoRA is
recorded as skipped), to check this logic where there is no GPU.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

# Dense bf16 tensor-core peaks (NVIDIA datasheets, without sparsity), matched in order.
PEAK_TFLOPS = [("H200", 989.0), ("H100 PCIe", 756.0), ("H100 NVL", 835.0), ("H100", 989.0), ("A100", 312.0)]

LLAMA_31_8B = dict(  # meta-llama/Llama-3.1-8B's config.json, less its tokenizer ids
    hidden_size=4096, intermediate_size=14336, num_hidden_layers=32, num_attention_heads=32,
    num_key_value_heads=8, vocab_size=128256, max_position_embeddings=131072, rms_norm_eps=1e-5,
    tie_word_embeddings=False, rope_theta=500000.0,
    rope_scaling={"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                  "original_max_position_embeddings": 8192},
)

WORDS = ("the crew checks the hose line pressure before entry and reports every change in smoke colour "
         "heat or structure to the incident commander who decides whether to continue or withdraw").split()


def append(results: Path, row: dict) -> None:
    results.parent.mkdir(parents=True, exist_ok=True)
    with results.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(row) + "\n")
    print(json.dumps(row), flush=True)


# ------------------------------------------------------------------------------ train


def peak_tflops(name: str, override: float | None) -> float | None:
    if override:
        return override
    return next((peak for key, peak in PEAK_TFLOPS if key in name), None)


def synthetic_examples(n: int, words: int) -> list:
    """``n`` conversations whose long answers are cut at sequence_len, so every row has the same length."""
    import random

    from harness import Example, Message

    rng = random.Random(0)
    return [Example(messages=(Message("user", f"Briefing {i}: what does the crew do?"),
                              Message("assistant", " ".join(rng.choice(WORDS) for _ in range(words)))),
                    origin=f"synthetic:{i}")
            for i in range(n)]


def random_llama(target: Path, shape: dict) -> Path:
    """A Llama of ``shape`` with random weights (SmolLM2's tokenizer), written once to ``target``."""
    if (target / "config.json").is_file():
        return target
    import shutil

    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    from harness.testing import real_tokenizer_folder

    tokenizer = AutoTokenizer.from_pretrained(real_tokenizer_folder())
    config = LlamaConfig(bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
                         pad_token_id=tokenizer.pad_token_id, **shape)
    torch.manual_seed(0)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    start = time.perf_counter()
    with torch.device(device):  # initialised where it is made: 8B random weights on a CPU take minutes
        model = LlamaForCausalLM._from_config(config, dtype=torch.bfloat16)
    staging = target.parent / f".{target.name}.staging"
    shutil.rmtree(staging, ignore_errors=True)
    model.save_pretrained(staging)
    tokenizer.save_pretrained(staging)
    staging.rename(target)
    print(f"random model {target.name}: {sum(p.numel() for p in model.parameters()) / 1e9:.2f}B parameters, "
          f"made and saved in {time.perf_counter() - start:.0f}s", flush=True)
    del model
    if device == "cuda":
        torch.cuda.empty_cache()  # the trainer loads its own copy
    return target


def flops_per_token(config, method: str, lora_r: int, seq: int) -> float:
    h, layers, inter = config.hidden_size, config.num_hidden_layers, config.intermediate_size
    heads, kv = config.num_attention_heads, config.num_key_value_heads
    hd = getattr(config, "head_dim", None) or h // heads
    q, k = heads * hd, kv * hd
    per_layer = h * q + 2 * h * k + q * h + 3 * h * inter
    n = layers * per_layer + h * config.vocab_size  # + the LM head
    attention = 12 * layers * q * seq
    if method == "full":
        return 6 * n + attention
    n_lora = layers * lora_r * ((h + q) + 2 * (h + k) + (q + h) + 2 * (h + inter) + (inter + h))
    return 4 * n + 6 * n_lora + attention


def train(args: argparse.Namespace) -> None:
    import torch
    from transformers import AutoConfig

    from harness import TrainRequest
    from harness.config import RunConfig
    from harness.models.loading import local_folder, resolve_model
    from harness.plugins import load_harness

    name = f"train {args.model} {args.method}"
    cuda = torch.cuda.is_available()
    if args.method == "qlora" and not cuda:
        append(args.results, {"section": name, "status": "skipped", "why": "QLoRA needs CUDA (bitsandbytes)"})
        return
    scratch = args.scratch
    if args.model == "llama8b-random":
        from harness.testing import TINY_SHAPE

        shape = {**TINY_SHAPE, "vocab_size": 49152} if args.tiny else LLAMA_31_8B
        folder = str(random_llama(scratch / ("llama-tiny-random" if args.tiny else "llama-3.1-8b-random"), shape))
    elif args.tiny:
        from harness.testing import build_tiny_model

        target = scratch / "tiny"
        folder = str(target if (target / "config.json").is_file() else build_tiny_model(target))
    else:
        folder = local_folder(resolve_model(args.model))
    micro = args.micro_batch or (2 if args.tiny else 4 if args.model == "llama8b-random" else 8)
    seq = args.seq or (128 if args.tiny else 2048)
    settings = RunConfig(
        base_model=folder, adapter=None if args.method == "full" else args.method, trainer={"name": args.method},
        micro_batch_size=micro, gradient_accumulation_steps=1,
        max_steps=args.steps, sequence_len=seq, learning_rate=1e-4, warmup_steps=0, save_steps=10**6,
        logging_steps=10**6, lora_r=16, lora_alpha=32, lora_dropout=0.0, seed=0,
        gradient_checkpointing=args.gradient_checkpointing, optimizer=args.optimizer,
    )
    planned = memory_plan(settings, cuda, name, args.results) if args.plan else {}
    if planned is None:
        return
    harness = load_harness()
    cls = harness.trainer(args.method)
    trainer = cls(cls.Options())
    trainer.check_environment(settings)
    out = scratch / "out" / f"{args.model}-{args.method}"
    import shutil

    shutil.rmtree(out, ignore_errors=True)
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    record = trainer.train(TrainRequest(config=settings, train=synthetic_examples(args.steps * micro, seq * 2),
                                        validation=[], output_dir=out))
    seconds = time.perf_counter() - start
    rows = [json.loads(line) for line in record.metrics_file.read_text().splitlines()]
    steps = [r for r in rows if r["type"] == "train"]
    timed = steps[args.warmup:] or steps[-1:]
    tokens = sum(r["tokens"] for r in timed)
    padded = sum(r["tokens"] / (1 - r["padding_ratio"]) for r in timed)
    step_seconds = sum(r["seconds"] for r in timed)
    config = AutoConfig.from_pretrained(folder)
    flops = flops_per_token(config, args.method, settings.lora_r, seq)
    device = torch.cuda.get_device_name(0) if cuda else "cpu"
    peak = peak_tflops(device, args.peak_tflops)
    achieved = flops * padded / step_seconds / 1e12
    append(args.results, {
        "section": name, "status": "ok", "device": device, "model": args.model, "method": args.method,
        "micro_batch": micro, "sequence_len": seq, "timed_steps": len(timed),
        "tokens_per_s": round(tokens / step_seconds, 1), "padding": round(1 - tokens / padded, 4),
        "step_s": round(step_seconds / len(timed), 3), "tflops": round(achieved, 2),
        "mfu": round(achieved / peak, 4) if peak else None, "peak_tflops": peak,
        "peak_mem_gib": round(torch.cuda.max_memory_allocated() / 2**30, 2) if cuda else None,
        "peak_reserved_gib": round(torch.cuda.max_memory_reserved() / 2**30, 2) if cuda else None,
        "final_loss": steps[-1]["loss"], "seconds": round(seconds, 1), **planned,
    })


def memory_plan(settings, cuda: bool, name: str, results: Path) -> dict | None:
    """Print the memory plan for this device; its figures for the row, or None (recorded as skipped) when it
    says the run cannot fit, so the section does not spend its time box on an out-of-memory error."""
    from harness.memory.plan import GIB
    from harness.memory.report import plan_config
    from harness.memory.target import device_target

    report = plan_config(settings, device_target("cuda" if cuda else "cpu", 1))
    print("\n".join(report.lines), flush=True)
    if report.plan is None:
        return {}
    planned = {"planned_gib": round(report.plan.resident_bytes / GIB, 2), "optimizer": settings.optimizer}
    if not report.fits:
        append(results, {"section": name, "status": "skipped", **planned,
                         "why": f"the plan does not fit: {report.problem}"[:300]})
        return None
    return planned


# ------------------------------------------------------------------------------ loop


def loop_config(args: argparse.Namespace) -> None:
    """The demo's config cut to one round (absolute paths), or a tiny-model equivalent; prints its path."""
    import yaml

    config = yaml.safe_load((ROOT / "configs" / "demo.yml").read_text())
    for spec in config["datasets"]:
        spec["path"] = str((ROOT / "configs" / spec["path"]).resolve())
    config["mitigation"].update(schedule=[0.2], max_rounds=1)
    config["benchmarks"]["max_items"] = 200
    if args.tiny:
        from harness.testing import build_tiny_model

        target = args.scratch / "tiny"
        config["base_model"] = str(target if (target / "config.json").is_file() else build_tiny_model(target))
        config["datasets"][0]["max_samples"] = 24
        config.update(max_steps=2, micro_batch_size=4, dtype="float32")
        config["benchmarks"] = {"suite": None, "general": [{"name": "offline_arc_easy", "limit": 8}],
                                "domain": [{"name": "domain_mc", "limit": 8}], "limit": None, "batch_size": 4}
        config["forgetting"] = {"threshold": 5.0, "policy": "point", "bootstrap_samples": 100}
        config["mitigation"]["general_data"][0]["max_samples"] = 20
        config["samples"] = {"domain": 0, "general": [], "max_new_tokens": 8}
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "loop.yml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    print(path)


def loop_result(args: argparse.Namespace) -> None:
    verdict = json.loads((args.run_dir / "verdict.json").read_text())
    training = json.loads((args.run_dir / "rounds" / "round-1" / "training.json").read_text())
    append(args.results, {"section": "loop: one round of harness run", "status": "ok",
                          "verdict": verdict["status"], "seconds": round(args.seconds, 1),
                          "train_steps": training.get("steps"), "stages_s": verdict.get("timings", {})})


# ------------------------------------------------------------------------------ eval


def eval_result(args: argparse.Namespace) -> None:
    lines = args.log.read_text().splitlines()
    total = next((line for line in reversed(lines) if line.startswith("all tasks")), None)
    header = next((line for line in lines if line.startswith("model ")), "")
    append(args.results, {"section": "eval: shared-prefix vs lm-eval", "status": "ok" if total else "failed",
                          "setup": header, "total": total, "seconds": round(args.seconds, 1)})


# ------------------------------------------------------------------------------ summary


def record(args: argparse.Namespace) -> None:
    append(args.results, {"section": args.section, "status": args.status, "why": args.why,
                          "seconds": round(args.seconds, 1)})


def summary(args: argparse.Namespace) -> None:
    rows = [json.loads(line) for line in args.results.read_text().splitlines() if line.strip()] \
        if args.results.is_file() else []
    print(f"\n{'section':<34} {'status':<8} {'tokens/s':>10} {'MFU':>6} {'TFLOP/s':>8} {'peak GiB':>9} "
          f"{'step s':>7} {'secs':>6}  notes")
    def cell(row: dict, key: str) -> str:
        return "-" if row.get(key) is None else str(row[key])

    for r in rows:
        mfu = f"{r['mfu']:.1%}" if r.get("mfu") is not None else "-"
        notes = r.get("why") or ""
        if r["section"].startswith("loop"):
            notes = f"verdict {r['verdict']}; " + ", ".join(f"{k} {v:.0f}s" for k, v in r["stages_s"].items())
        elif r["section"].startswith("eval") and r.get("total"):
            notes = " ".join(r["total"].split())
        elif r.get("status") == "ok" and "device" in r:
            notes = f"{r['micro_batch']}x{r['sequence_len']} tokens/step, loss {r['final_loss']:.3f}"
            if r.get("planned_gib") is not None:
                notes += f"; {r['optimizer']}, plan {r['planned_gib']} GiB, reserved {r['peak_reserved_gib']} GiB"
        print(f"{r['section']:<34} {r['status']:<8} {cell(r, 'tokens_per_s'):>10} {mfu:>6} {cell(r, 'tflops'):>8} "
              f"{cell(r, 'peak_mem_gib'):>9} {cell(r, 'step_s'):>7} {cell(r, 'seconds'):>6}  {notes}")
    device = next((r["device"] for r in rows if r.get("device")), None)
    peak = next((r["peak_tflops"] for r in rows if r.get("peak_tflops")), None)
    if device:
        print(f"device: {device}; " + (f"MFU against {peak:g} TFLOP/s dense bf16" if peak else
                                       "no bf16 peak known for it (--peak-tflops), so no MFU")
              + "; model FLOPs per token: see bench/gpu_check.py")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("train")
    p.add_argument("--model", choices=["smollm2-135m-instruct", "llama8b-random"], required=True)
    p.add_argument("--method", choices=["lora", "qlora", "full"], required=True)
    p.add_argument("--steps", type=int, default=8)
    p.add_argument("--warmup", type=int, default=2, help="first steps left out of the timing")
    p.add_argument("--micro-batch", type=int)
    p.add_argument("--seq", type=int, help="sequence length (every row is cut to it)")
    p.add_argument("--gradient-checkpointing", action="store_true")
    p.add_argument("--optimizer", default="adamw_torch", help="the config's optimizer (e.g. adamw_bnb_8bit)")
    p.add_argument("--plan", action="store_true", help="print the memory plan first; skip if it cannot fit")
    p.add_argument("--peak-tflops", type=float, help="the card's dense bf16 peak, if not in the table")
    p.add_argument("--tiny", action="store_true", help="CPU dry run with the tiny random Llama")
    p.add_argument("--scratch", type=Path, required=True, help="models and training folders (large)")
    p.add_argument("--results", type=Path, required=True)
    p.set_defaults(run=train)
    p = sub.add_parser("loop-config")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--scratch", type=Path, required=True)
    p.add_argument("--tiny", action="store_true")
    p.set_defaults(run=loop_config)
    p = sub.add_parser("loop-result")
    p.add_argument("run_dir", type=Path)
    p.add_argument("--seconds", type=float, default=0.0)
    p.add_argument("--results", type=Path, required=True)
    p.set_defaults(run=loop_result)
    p = sub.add_parser("eval-result")
    p.add_argument("log", type=Path)
    p.add_argument("--seconds", type=float, default=0.0)
    p.add_argument("--results", type=Path, required=True)
    p.set_defaults(run=eval_result)
    p = sub.add_parser("record")
    p.add_argument("section")
    p.add_argument("status")
    p.add_argument("--why", default="")
    p.add_argument("--seconds", type=float, default=0.0)
    p.add_argument("--results", type=Path, required=True)
    p.set_defaults(run=record)
    p = sub.add_parser("summary")
    p.add_argument("results", type=Path)
    p.set_defaults(run=summary)
    args = parser.parse_args()
    args.run(args)


if __name__ == "__main__":
    sys.exit(main())
