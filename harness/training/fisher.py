"""The diagonal Fisher information of a model's weights on general data, cached.

EWC needs, for each weight it protects, how much the general-data loss cares
about that weight: the mean squared per-example gradient (the empirical diagonal
Fisher). It is estimated once per (model weights, data, config) and cached
under ``harness.models.loading.cache_root()/fisher``, since it costs a forward and
backward pass per example.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Sequence

import torch
from tqdm.auto import tqdm

from harness.errors import UsageError
from harness.records import Example
from harness.files import atomic_path
from harness.models.loading import cache_root, weights_fingerprint
from harness.data.examples import examples_digest
from harness.data.tokenize import encode


def estimate_fisher(
    model: Any,
    tokenizer: Any,
    examples: Sequence[Example],
    param_names: Sequence[str],
    *,
    max_length: int,
    train_on: str = "assistant",
    normalize: bool = True,
) -> dict[str, torch.Tensor]:
    """Mean squared per-example gradient of the loss for each named parameter (fp32).

    With ``normalize`` the values are divided by their overall mean, so the EWC
    strength λ does not depend on the model's size or the loss's scale.
    """
    params = dict(model.named_parameters())
    unknown = [n for n in param_names if n not in params]
    if unknown:
        raise ValueError(f"no such parameters for the Fisher estimate: {unknown[:3]}")
    if not examples:
        raise UsageError("EWC needs general data to estimate the Fisher information; "
                         "add files under mitigation.general_data")
    was_training = model.training
    saved_flags = {n: p.requires_grad for n, p in params.items()}
    for name, p in params.items():
        p.requires_grad_(name in param_names)
    fisher = {n: torch.zeros_like(params[n], dtype=torch.float32) for n in param_names}
    model.eval()  # no dropout: the estimate is of the model as it is
    device = next(model.parameters()).device
    used = 0
    try:
        for example in tqdm(examples, desc="Fisher estimate", unit="example"):
            encoded = encode(example, tokenizer, max_length=max_length, train_on=train_on)  # type: ignore[arg-type]
            if encoded.trained_tokens == 0:
                continue
            used += 1
            ids = torch.tensor([encoded.input_ids], device=device)
            labels = torch.tensor([encoded.labels], device=device)
            model.zero_grad(set_to_none=True)
            model(input_ids=ids, labels=labels).loss.backward()
            for name in param_names:
                grad = params[name].grad
                if grad is not None:
                    fisher[name] += grad.detach().float() ** 2
        model.zero_grad(set_to_none=True)
    finally:
        for name, p in params.items():
            p.requires_grad_(saved_flags[name])
        model.train(was_training)
    if used == 0:
        # Question-only prompts (e.g. builtin:trivia_qa) have no answer to take a gradient
        # of: the Fisher would be all zeros and the EWC penalty silently nothing.
        raise UsageError(
            f"EWC: none of the {len(examples)} general examples has an answer to train on, so the Fisher "
            "information would be zero; use answered general data (e.g. builtin:trivia_qa_answers, or "
            "files with assistant turns) under mitigation.general_data"
        )
    fisher = {n: f / used for n, f in fisher.items()}
    if normalize:
        mean = torch.stack([f.mean() for f in fisher.values()]).mean().clamp_min(1e-30)
        fisher = {n: f / mean for n, f in fisher.items()}
    return fisher


def cached_fisher(
    model: Any,
    tokenizer: Any,
    examples: Sequence[Example],
    param_names: Sequence[str],
    *,
    max_length: int,
    train_on: str = "assistant",
    normalize: bool = True,
) -> dict[str, torch.Tensor]:
    """:func:`estimate_fisher`, read from the cache when model, data and config match."""
    from safetensors.torch import load_file, save_file

    key_source = json.dumps({
        "model": weights_fingerprint(model),
        "data": examples_digest(examples),
        "params": sorted(param_names),
        "max_length": max_length,
        "train_on": train_on,
        "normalize": normalize,
    }, sort_keys=True)
    key = hashlib.sha256(key_source.encode()).hexdigest()[:32]
    path = cache_root() / "fisher" / f"{key}.safetensors"
    if path.is_file():
        device = next(model.parameters()).device
        return {n: t.to(device) for n, t in load_file(str(path)).items()}
    fisher = estimate_fisher(model, tokenizer, examples, param_names, max_length=max_length,
                             train_on=train_on, normalize=normalize)
    with atomic_path(path) as tmp:  # readers see the whole file or none
        save_file({n: t.detach().cpu().contiguous() for n, t in fisher.items()}, str(tmp))
    return fisher


def fisher_path_count() -> int:
    """How many Fisher estimates are cached (for status displays)."""
    folder = cache_root() / "fisher"
    return len(list(folder.glob("*.safetensors"))) if folder.is_dir() else 0


__all__ = ["cached_fisher", "estimate_fisher", "fisher_path_count"]
