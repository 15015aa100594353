"""A cheap early-warning signal of forgetting, measured while training.

At each evaluation step the trainer calls :class:`GeneralDrift`, which scores a
small fixed sample of answered *general* text (never benchmark items) and
reports how much the model's loss on it has risen over the base model's, in
percent. Full benchmark runs happen only after training; this signal is what
lets the loop choose, among the checkpoints saved at evaluation steps, the one
with the best domain validation loss that has not drifted past
``forgetting.early_warning_threshold``.
"""

from __future__ import annotations

import math
import random
from typing import Any

from harness.api import Example
from harness.tokenize import IGNORE_INDEX, encode


class GeneralDrift:
    """Relative rise of the mean token loss on fixed general examples, against the base model."""

    def __init__(self, examples: list[Example], tokenizer: Any, *, max_length: int, batch_size: int = 8) -> None:
        encoded = [encode(e, tokenizer, max_length=max_length) for e in examples]
        self.encoded = [e for e in encoded if e.trained_tokens]
        self.pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
        self.batch_size = batch_size
        self.baseline: float | None = None

    def __len__(self) -> int:
        return len(self.encoded)

    def nll(self, model: Any) -> float:
        """Mean negative log-likelihood per trained token (assistant tokens) of the sample."""
        import torch

        device = next(model.parameters()).device
        total, count = 0.0, 0
        with torch.no_grad():
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
                logits = model(input_ids=ids.to(device), attention_mask=mask.to(device)).logits.float()
                targets = labels[:, 1:].to(device)
                losses = torch.nn.functional.cross_entropy(
                    logits[:, :-1].reshape(-1, logits.shape[-1]), targets.reshape(-1),
                    ignore_index=IGNORE_INDEX, reduction="sum")
                total += float(losses)
                count += int((targets != IGNORE_INDEX).sum())
        return total / max(count, 1)

    def measure_baseline(self, model: Any) -> float:
        """The base model's loss: with a LoRA model, the same model with its adapter switched off."""
        if self.baseline is None:
            if hasattr(model, "disable_adapter"):
                with model.disable_adapter():
                    self.baseline = self.nll(model)
            else:
                self.baseline = self.nll(model)
        return self.baseline

    def __call__(self, model: Any, step: int) -> dict[str, float]:
        if not self.encoded:
            return {}
        base = self.measure_baseline(model)
        now = self.nll(model)
        drift = (now - base) / base * 100 if base > 0 and math.isfinite(base) else float("nan")
        return {"general_nll": round(now, 5), "general_nll_base": round(base, 5), "early_warning": round(drift, 4)}


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
        from harness.data_sources import load_prompt_set

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
                              f"{len(under)}/{len(rows)} evaluation steps with general-loss drift < {threshold:g}%")
    best = min(rows, key=lambda r: (r["early_warning"], -r["step"]))
    return best["step"], (f"step {best['step']}: every evaluation step drifted >= {threshold:g}%; "
                          f"this one least ({best['early_warning']:.2f}%)")
