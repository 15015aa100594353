"""Training speed: the plain transformers + PEFT recipe against ``harness``'s engine, same session.

Both train the same model on the same examples with the same hyper-parameters
(the seed's LoRA: r=32, alpha=64, dropout 0.05, all 7 projections):

(a) the recipe a user writes from transformers' and PEFT's docs: fp32 weights,
    random order, each batch padded to its longest row;
(s) the same recipe as a savvy user writes it, following the seed (``bf16: true``)
    and transformers' docs: ``bf16=True`` (autocast) and length-grouped batches
    (``group_by_length``; ``train_sampling_strategy`` in transformers 5);
(b) the harness engine (the ``lora`` trainer): bf16 autocast where the CPU has
    native bf16, frozen base stored in bf16, length-grouped batches, each
    micro-batch run as one packed row that computes the rows' shared prompt
    prefix (the data's system prompt) once (``harness/training/packing.py``;
    ``--no-packing`` turns it off), logits only at trained positions, adapters' inputs left in bf16 under autocast (PEFT's
    fp32 copy, which autocast undoes, skipped: ``modeling.adapter_input_casting``),
    and on a CPU: attention computed in float32 (``harness/training/attention.py``;
    the CPU's bf16 attention kernel is the slow one), LoRA dropout masks drawn
    16 bits per element (``harness/training/dropout.py``) instead of
    ``bernoulli_``, freed memory kept for reuse (``harness/training/allocator.py``),
    and torch's OpenMP threads spinning between operators instead of sleeping
    (``harness/cpu_threads.py``, as the ``harness`` command starts them).

Each recipe runs in a fresh Python process (so no recipe inherits another's
process-wide settings). It prints useful (non-padding) tokens per second of
training-loop time for each, the ratios (b)/(a) and (b)/(s), and the final
training losses (mean of the last 3 steps). A shared machine's speed drifts
between minutes, so ``--rounds N`` runs all recipes N times, reversing the
order every other round, takes each ratio within a round, and prints their
median. ``--profile`` runs one round in this process instead, (b) last, and
adds torch.profiler's top operators for 3 steps of (s) and (b): where the time goes.

    nice .venv/bin/python bench/train_speed.py --examples 64 --steps 8 --rounds 3
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

if __name__ == "__main__" and sys.argv[1:3] == ["--recipe", "b"]:
    # (b) is what `harness train` runs, and the command starts torch's CPU threads this way (cpu_threads.py).
    from harness.cpu_threads import import_torch_with_spinning_threads

    import_torch_with_spinning_threads()

import torch  # noqa: E402
from transformers import TrainerCallback  # noqa: E402

from harness import Example, Message, TrainRequest
from harness.config import RunConfig  # noqa: E402
from harness.data.tokenize import encode  # noqa: E402

DATA = Path(__file__).resolve().parents[1] / "plugins/example_data/emergency_response/train.jsonl"


def read_examples(path: Path, n: int) -> list[Example]:
    examples = []
    for i, line in enumerate(path.read_text(encoding="utf-8").splitlines()[:n]):
        record = json.loads(line)
        examples.append(Example(tuple(Message(m["role"], m["content"]) for m in record["messages"]),
                                origin=f"{path.name}:{i + 1}"))
    return examples


class StepTimer(TrainerCallback):
    """Training-loop time and per-step losses, as the plain recipe would log them."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.losses: list[float] = []
        self._start = 0.0

    def on_step_begin(self, args, state, control, **kwargs):
        self._start = time.perf_counter()

    def on_step_end(self, args, state, control, **kwargs):
        self.seconds += time.perf_counter() - self._start

    def on_log(self, args, state, control, logs=None, **kwargs):
        if logs and "loss" in logs:
            self.losses.append(float(logs["loss"]))


def plain_recipe(settings: RunConfig, examples: list[Example], folder: str, out: Path, *, savvy: bool = False,
                 profile: bool = False) -> dict:
    """(a): AutoModel in fp32 + get_peft_model + Trainer + DataCollatorForSeq2Seq(padding=True).

    ``savvy``: (s), the same with ``bf16=True`` and ``group_by_length=True``.
    """
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer, DataCollatorForSeq2Seq, Trainer, TrainingArguments

    torch.manual_seed(settings.seed)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32)
    model = get_peft_model(model, LoraConfig(r=settings.lora_r, lora_alpha=settings.lora_alpha,
                                             lora_dropout=settings.lora_dropout,
                                             target_modules=settings.lora_target_modules, task_type="CAUSAL_LM"))
    rows = []
    for ex in examples:
        enc = encode(ex, tokenizer, max_length=settings.sequence_len)
        rows.append({"input_ids": enc.input_ids, "attention_mask": [1] * len(enc.input_ids), "labels": enc.labels})
    base_collator = DataCollatorForSeq2Seq(tokenizer, padding=True)
    counts = {"real": 0, "padded": 0}

    def collate(batch):
        out_batch = base_collator(batch)
        counts["real"] += int(out_batch["attention_mask"].sum())
        counts["padded"] += int(out_batch["attention_mask"].numel())
        return out_batch

    timer = StepTimer()
    args = TrainingArguments(
        output_dir=str(out), per_device_train_batch_size=settings.micro_batch_size,
        gradient_accumulation_steps=settings.gradient_accumulation_steps, max_steps=settings.max_steps,
        learning_rate=settings.learning_rate, lr_scheduler_type="cosine", warmup_steps=settings.warmup_steps or 0,
        logging_steps=1, save_strategy="no", report_to="none", use_cpu=True, seed=settings.seed,
        disable_tqdm=True, remove_unused_columns=False, bf16=savvy,
        # transformers 5 spells group_by_length=True as a sampling strategy
        train_sampling_strategy="group_by_length" if savvy else "random",
    )
    trainer = Trainer(model=model, args=args, train_dataset=rows, data_collator=collate,
                      callbacks=[timer, *([StepProfiler("(s) savvy recipe")] if profile else [])])
    trainer.train()
    return {"tokens": counts["real"], "padded": counts["padded"], "seconds": timer.seconds, "losses": timer.losses}


class StepProfiler(TrainerCallback):
    """torch.profiler over optimizer steps 2-4 (after warm-up); prints the top operators by CPU time."""

    def __init__(self, label: str, first: int = 2, last: int = 4, top: int = 12) -> None:
        self.label, self.first, self.last, self.top = label, first, last, top
        self.profiler = None

    def on_step_begin(self, args, state, control, **kwargs):
        if state.global_step + 1 == self.first:
            self.profiler = torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU])
            self.profiler.__enter__()

    def on_step_end(self, args, state, control, **kwargs):
        if self.profiler is not None and state.global_step == self.last:
            self.profiler.__exit__(None, None, None)
            print(f"\n--- profile of {self.label}, steps {self.first}-{self.last} ---")
            print(self.profiler.key_averages().table(sort_by="self_cpu_time_total", row_limit=self.top))
            self.profiler = None


def harness_engine(settings: RunConfig, examples: list[Example], out: Path, *, profile: bool = False) -> dict:
    """(b): the built-in ``lora`` trainer, i.e. what ``harness train`` runs."""
    from harness_plugins.trainers.lora import LoraTrainer

    if profile:  # measuring only: hand the engine's Trainer the profiler once it is built
        from harness.training import engine

        built = engine.HarnessTrainer.__init__

        def with_profiler(self, *args, **kwargs):
            built(self, *args, **kwargs)
            self.add_callback(StepProfiler("(b) harness"))

        engine.HarnessTrainer.__init__ = with_profiler
    record = LoraTrainer().train(TrainRequest(config=settings, train=examples, validation=[], output_dir=out))
    rows = [json.loads(line) for line in record.metrics_file.read_text().splitlines()]
    train = [r for r in rows if r["type"] == "train"]
    return {"tokens": sum(r["tokens"] for r in train), "seconds": sum(r["seconds"] for r in train),
            "losses": [r["loss"] for r in train],
            "padding": sum(r["padding_ratio"] for r in train) / len(train),
            "computed": sum(r["computed_tokens"] for r in train)}


RECIPES = {"a": "plain recipe", "s": "savvy recipe", "b": "harness"}


def run_recipe(name: str, args: argparse.Namespace) -> dict:
    """One recipe, in this process: its token count, training-loop seconds, losses and padding."""
    from harness.models.loading import local_folder, resolve_model

    folder = local_folder(resolve_model(args.model))
    examples = read_examples(args.data, args.examples)
    settings = RunConfig(base_model=folder, max_steps=args.steps, micro_batch_size=args.micro_batch,
                         gradient_accumulation_steps=args.accumulation, learning_rate=2e-4, warmup_steps=0,
                         sequence_len=512, save_steps=10_000, logging_steps=5, seed=0,
                         shared_prefix_packing=not args.no_packing)
    with tempfile.TemporaryDirectory() as tmp:
        if name == "b":
            result = harness_engine(settings, examples, Path(tmp) / "harness", profile=args.profile)
        else:
            result = plain_recipe(settings, examples, folder, Path(tmp) / name, savvy=name == "s",
                                  profile=args.profile and name == "s")
            result["padding"] = 1 - result["tokens"] / result["padded"]
    result["rate"] = result["tokens"] / result["seconds"]
    result["final_loss"] = sum(result["losses"][-3:]) / len(result["losses"][-3:])
    return result


def in_fresh_process(name: str, args: argparse.Namespace) -> dict:
    """Run one recipe in its own Python process (so no recipe inherits another's process-wide settings)."""
    command = [sys.executable, __file__, "--recipe", name, "--model", args.model, "--examples", str(args.examples),
               "--steps", str(args.steps), "--micro-batch", str(args.micro_batch),
               "--accumulation", str(args.accumulation), "--data", str(args.data),
               *(["--no-packing"] if args.no_packing else [])]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    lines = [line for line in done.stdout.splitlines() if line.startswith(RESULT)]
    if done.returncode or not lines:
        sys.exit(f"recipe ({name}) failed (exit {done.returncode}):\n{done.stderr[-3000:]}")
    return json.loads(lines[-1][len(RESULT):])


RESULT = "RESULT "


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="smollm2-135m-instruct")
    parser.add_argument("--examples", type=int, default=64)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--micro-batch", type=int, default=4)
    parser.add_argument("--accumulation", type=int, default=2)
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--rounds", type=int, default=1,
                        help="rounds of all recipes, each recipe in a fresh process, the order reversed every "
                             "other round; ratios are taken within a round (default 1)")
    parser.add_argument("--no-packing", action="store_true",
                        help="(b) without shared-prefix packing (config key shared_prefix_packing: false)")
    parser.add_argument("--recipes", default="a,s,b", help="which of a, s, b to run (default all three)")
    parser.add_argument("--recipe", choices=sorted(RECIPES), help=argparse.SUPPRESS)  # one, in this process
    parser.add_argument("--profile", action="store_true",
                        help="one round in this process, printing torch.profiler's top operators for (s) and (b)")
    args = parser.parse_args()

    if args.recipe:
        print(RESULT + json.dumps(run_recipe(args.recipe, args)))
        return
    names = [name for name in args.recipes.split(",") if name]
    if not names or any(name not in RECIPES for name in names):
        parser.error(f"--recipes: choose from a, s, b (got {args.recipes!r})")
    print(f"model {args.model}, {args.examples} examples, {args.steps} steps of "
          f"{args.micro_batch}x{args.accumulation}, torch threads {torch.get_num_threads()}, "
          f"(b) {'without' if args.no_packing else 'with'} shared-prefix packing, "
          f"{args.rounds} round(s), each recipe in a fresh process")
    if args.profile:  # in this process, (b) last: its process-wide settings must not reach the others
        args.rounds, names = 1, [name for name in RECIPES if name in names]
    rounds = []
    for number in range(args.rounds):
        order = names if number % 2 == 0 else names[::-1]  # what runs first in one round runs last in the next
        if args.profile:
            results = {name: run_recipe(name, args) for name in order}
        else:
            results = {name: in_fresh_process(name, args) for name in order}
        rounds.append(results)
        for name in names:
            r = results[name]
            print(f"round {number + 1} ({name}) {RECIPES[name]:13s}: {r['rate']:8.1f} useful tokens/s  "
                  f"({r['tokens']} tokens in {r['seconds']:.1f}s, padding {r['padding']:.1%}"
                  + (f", {r['computed']} positions computed" if "computed" in r else "") + "), "
                  f"final loss {r['final_loss']:.4f}", flush=True)
        for other in ("a", "s"):
            if "b" in results and other in results:
                print(f"round {number + 1} (b)/({other}) : {results['b']['rate'] / results[other]['rate']:.2f}x")
    if len(rounds) > 1:
        print("medians over rounds:")
        for name in names:
            print(f"({name}) {RECIPES[name]:13s}: {statistics.median(r[name]['rate'] for r in rounds):8.1f} "
                  "useful tokens/s")
    for other in ("a", "s"):
        if "b" in names and other in names:
            ratios = [r["b"]["rate"] / r[other]["rate"] for r in rounds]
            goal = "   (the goal is >= 2x at equal or lower final loss)" if other == "s" else ""
            print(f"speed-up (b)/({other}) : {statistics.median(ratios):.2f}x median of "
                  f"{', '.join(f'{x:.2f}' for x in ratios)}{goal}")


if __name__ == "__main__":
    main()
