"""A cheap early-warning signal of forgetting, measured while training.

At each evaluation step the trainer calls :class:`GeneralDrift`, which measures
on a small fixed sample of *general* text (never trained on, never benchmark
items) how far the model's next-token distributions have moved from the base
model's (KL divergence, nats per token). Full benchmark runs happen only after
training; this signal is what lets the loop choose, among the checkpoints saved
at evaluation steps, the one with the best domain validation loss that has not
drifted past ``forgetting.early_warning_threshold``.
"""

from __future__ import annotations

import math
import random
from typing import Any, Callable

from harness.config import Forgetting, RunConfig
from harness.records import DataSource, Example, LoadedModel, TrainingRecord
from harness.data.tokenize import IGNORE_INDEX, encode


class GeneralDrift:
    """How far the model has moved from the base model on fixed general text.

    The signal is the mean per-token KL divergence KL(base || fine-tuned) of the
    next-token distributions at the sample's answer positions, in nats: 0 for the
    base itself, growing as general behaviour shifts, and indifferent to the style
    of the reference answers (it compares distributions, not the answers' text). The base distributions come from the same
    model with its LoRA adapter switched off, or from ``reference`` (the base
    model in memory) for full fine-tuning. The loss on the sample's answers and
    its rise over the base are logged beside it.
    """

    def __init__(self, examples: list[Example], tokenizer: Any, *, max_length: int, batch_size: int = 8,
                 reference: Any = None) -> None:
        encoded = [encode(e, tokenizer, max_length=max_length) for e in examples]
        self.encoded = [e for e in encoded if e.trained_tokens]
        self.pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
        self.batch_size = batch_size
        self.reference = reference

    def __len__(self) -> int:
        return len(self.encoded)

    def _batches(self, device: Any):
        import torch

        for start in range(0, len(self.encoded), self.batch_size):
            batch = self.encoded[start:start + self.batch_size]
            width = max(len(e.input_ids) for e in batch)
            ids = torch.full((len(batch), width), self.pad_id, dtype=torch.long)
            labels = torch.full((len(batch), width), IGNORE_INDEX, dtype=torch.long)
            mask = torch.zeros((len(batch), width), dtype=torch.long)
            for row, e in enumerate(batch):
                n = len(e.input_ids)
                ids[row, :n] = torch.tensor(e.input_ids)
                labels[row, :n] = torch.tensor(e.labels)
                mask[row, :n] = 1
            yield ids.to(device), labels.to(device), mask.to(device)

    def _base_logits(self, model: Any, ids: Any, mask: Any) -> Any:
        if hasattr(model, "disable_adapter"):
            with model.disable_adapter():
                return model(input_ids=ids, attention_mask=mask).logits.float()
        if self.reference is None:
            raise ValueError("GeneralDrift needs the base model as `reference` for a model without adapters")
        return self.reference(input_ids=ids, attention_mask=mask).logits.float().to(ids.device)

    def measure(self, model: Any) -> dict[str, float]:
        import torch
        import torch.nn.functional as F

        device = next(model.parameters()).device
        kl_sum = nll_sum = base_nll_sum = 0.0
        positions = answer_tokens = 0
        with torch.no_grad():
            for ids, labels, mask in self._batches(device):
                tuned = F.log_softmax(model(input_ids=ids, attention_mask=mask).logits.float()[:, :-1], dim=-1)
                base = F.log_softmax(self._base_logits(model, ids, mask)[:, :-1], dim=-1)
                targets = labels[:, 1:]
                # Only where an answer token is predicted: the prompt part carries the chat
                # template's system text, whose shift says little about general behaviour.
                answered = targets != IGNORE_INDEX
                kl = (base.exp() * (base - tuned)).sum(-1)
                kl_sum += float(kl[answered].sum())
                positions += int(answered.sum())
                safe = targets.clamp_min(0).unsqueeze(-1)
                nll_sum -= float(tuned.gather(-1, safe).squeeze(-1)[answered].sum())
                base_nll_sum -= float(base.gather(-1, safe).squeeze(-1)[answered].sum())
                answer_tokens += int(answered.sum())
        nll, base_nll = nll_sum / max(answer_tokens, 1), base_nll_sum / max(answer_tokens, 1)
        return {
            "early_warning": round(kl_sum / max(positions, 1), 6),
            "general_nll": round(nll, 5),
            "general_nll_rise_pct": round((nll - base_nll) / base_nll * 100, 4) if base_nll > 0 else float("nan"),
        }

    def __call__(self, model: Any, step: int) -> dict[str, float]:
        return self.measure(model) if self.encoded else {}


def drift_sample(general: list[Example], n: int, seed: int, exclude: list[Example] = ()) -> list[Example]:
    """``n`` answered general examples the model does not train on, chosen by the seed.

    Examples in ``exclude`` (the training mix) are left out: a sample the model
    trains on would hide forgetting. Without any answered general data, the
    offline TriviaQA questions with gold answers are used.
    """
    # Compare by the user turns: self-rehearsal trains on the same questions with other answers.
    seen = {tuple(m.content for m in e.messages if m.role == "user") for e in exclude}
    answered = [e for e in general if e.is_chat and any(m.role == "assistant" for m in e.messages)]
    answered = [e for e in answered if tuple(m.content for m in e.messages if m.role == "user") not in seen]
    if not answered:
        from harness.data.sources import load_prompt_set

        answered = [e for e in load_prompt_set("builtin:trivia_qa_answers")
                    if tuple(m.content for m in e.messages if m.role == "user") not in seen]
    rng = random.Random(seed)
    return rng.sample(answered, min(n, len(answered)))


def choose_checkpoint(evals: list[dict[str, Any]], threshold: float, available: set[int]) -> tuple[int | None, str]:
    """The evaluation step to keep: best validation loss among steps under the drift threshold.

    ``evals`` are the metrics file's evaluation rows; only steps with a saved
    checkpoint (``available``) qualify. With none under the threshold, the step
    that drifted least. ``None`` when no evaluation measured both numbers.
    """
    rows = [r for r in evals if r.get("step") in available and r.get("val_loss") is not None
            and r.get("early_warning") is not None and math.isfinite(r["early_warning"])]
    if not rows:
        return None, "no evaluation step measured both validation loss and drift"
    under = [r for r in rows if r["early_warning"] < threshold]
    if under:
        best = min(under, key=lambda r: (r["val_loss"], -r["step"]))
        return best["step"], (f"step {best['step']}: best validation loss {best['val_loss']:.4f} among "
                              f"{len(under)}/{len(rows)} evaluation steps with general KL < {threshold:g}")
    best = min(rows, key=lambda r: (r["early_warning"], -r["step"]))
    return best["step"], (f"step {best['step']}: every evaluation step drifted to a general KL >= {threshold:g}; "
                          f"this one least ({best['early_warning']:.4f})")


def drift_check(config: RunConfig, validation: list[Example], general: list[DataSource],
                training_examples: list[Example], base_model: Callable[[], LoadedModel],
                say: Callable[[str], None]) -> GeneralDrift | None:
    """The forgetting early-warning signal the trainer measures at each evaluation step (None: off)."""
    samples = config.forgetting.early_warning_samples
    if not samples or not validation:  # without validation there are no evaluation steps
        return None
    from harness.training.sharding import wants_sharding

    if wants_sharding(config):
        # The check scores the model on rank 0 alone; a sharded model computes only on all
        # ranks together (rank 0 alone would wait for the others forever on a GPU).
        say("note: the forgetting early warning is off under fsdp / deepspeed (it scores the "
            "model on one rank, and a sharded model runs only on all of them); the verdict is unchanged")
        return None
    sample = drift_sample([e for s in general for e in s.examples], samples, config.seed, exclude=training_examples)
    base = base_model()
    # LoRA models give their own base distributions (adapter off); others compare with the base in memory.
    return GeneralDrift(sample, base.tokenizer, max_length=config.sequence_len, batch_size=config.eval_batch_size,
                        reference=base.model)


def checkpoint_choice(forgetting: Forgetting, training: TrainingRecord) -> dict[str, Any]:
    """The final weights, or the forgetting-aware choice among evaluation-step checkpoints
    (``checkpoint_choice.json``: the step, the weights' folder and why)."""
    choice: dict[str, Any] = {"choice": forgetting.checkpoint_choice, "step": training.steps,
                              "weights": str(training.weights_dir), "reason": "the final weights"}
    if forgetting.checkpoint_choice == "forgetting_aware":
        from harness.loop.reporting import read_jsonl
        from harness.training.checkpoints import checkpoint_step, complete_checkpoints

        saved = {checkpoint_step(p): p for p in complete_checkpoints(training.output_dir / "checkpoints")}
        evals = [r for r in read_jsonl(training.metrics_file) if r.get("type") == "eval"]
        step, reason = choose_checkpoint(evals, forgetting.early_warning_threshold, set(saved) | {training.steps})
        if step is not None:
            weights = training.weights_dir if step == training.steps else saved[step]
            choice.update(step=step, weights=str(weights), reason=reason)
        else:
            choice["reason"] = f"the final weights ({reason})"
    return choice
