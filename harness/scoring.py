"""Scoring a loaded model, for benchmark plugins: shared-prefix log-likelihoods.

These import torch (and lm-eval) when this module is imported, unlike the rest of the
plugin surface, so import them inside the function that scores:
``from harness.scoring import score_continuations``.
"""

from __future__ import annotations

from harness.evaluation.lm_eval_adapter import PrefixLM
from harness.evaluation.prefix import score_continuations

__all__ = ["PrefixLM", "score_continuations"]
