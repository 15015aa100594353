"""lm-eval's ``HFLM`` with multiple-choice requests scored from shared prefixes.

The one part of shared-prefix scoring that needs lm-eval: :class:`PrefixLM`, an
lm-eval ``LM`` that replaces only the scoring of tokenised log-likelihood
requests with :func:`harness.evaluation.prefix.score_continuations`, so
tokenisation, truncation, the request order and the cache hook are lm-eval's
own; generation and rolling log-likelihood (perplexity) run through ``HFLM``
unchanged. Kept apart so the scoring core imports without lm-eval.
"""

from __future__ import annotations

import logging
from typing import Any

import torch
from lm_eval.models.huggingface import HFLM
from tqdm.auto import tqdm

from harness.evaluation.prefix import DEFAULT_MAX_BATCH_TOKENS, Answer, score_continuations, unsupported_reason

log = logging.getLogger(__name__)


class PrefixLM(HFLM):
    """lm-eval's ``HFLM`` with multiple-choice requests scored from shared prefixes.

    Only ``_loglikelihood_tokens`` (the log-likelihood of already tokenised
    requests) is replaced; every other path, tokenisation, ``generate_until`` and
    ``loglikelihood_rolling`` included, is ``HFLM``'s. ``max_batch_tokens`` bounds
    each forward pass (see :mod:`harness.evaluation.prefix`); ``batch_size`` still
    applies to the inherited paths. A model the shared prefix cannot serve (see
    :func:`unsupported_reason`) is scored by ``HFLM`` itself, with a warning.
    """

    def __init__(self, *args: Any, max_batch_tokens: int = DEFAULT_MAX_BATCH_TOKENS, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if max_batch_tokens < 1:
            raise ValueError(f"max_batch_tokens must be positive, got {max_batch_tokens}")
        self.max_batch_tokens = int(max_batch_tokens)
        self._in_rolling = False
        self.prefix_unsupported = unsupported_reason(self.model) if self.backend == "causal" else "it is not causal"
        if self.prefix_unsupported:
            log.warning("shared-prefix scoring is off (%s); using HFLM's scoring", self.prefix_unsupported)

    def loglikelihood_rolling(self, requests: list, disable_tqdm: bool = False) -> list[float]:
        # Perplexity windows share no prefixes: they stay on HFLM's path, which
        # goes through _loglikelihood_tokens too, hence the flag.
        self._in_rolling = True
        try:
            return super().loglikelihood_rolling(requests, disable_tqdm=disable_tqdm)
        finally:
            self._in_rolling = False

    def _loglikelihood_tokens(self, requests: list, disable_tqdm: bool = False,
                              override_bs: int | None = None) -> list[Answer]:
        if self._in_rolling or self.prefix_unsupported:
            return super()._loglikelihood_tokens(requests, disable_tqdm=disable_tqdm, override_bs=override_bs)
        bar = tqdm(total=len(requests), disable=disable_tqdm or self.rank != 0, desc="Running loglikelihood requests")
        # The mixed-precision setting HFLM's own forward calls run under.
        with torch.autocast(device_type=self.device.type, dtype=self.mixed_precision_dtype,
                            enabled=self.mixed_precision_dtype is not None):
            answers = score_continuations(
                self.model,
                [(context, continuation) for _, context, continuation in requests],
                max_batch_tokens=self.max_batch_tokens,
                max_length=self.max_length,
                progress=bar.update,
            )
        bar.close()
        for (request_key, _, _), answer in zip(requests, answers):
            # As HFLM does: rolling windows carry no key (they are cached per document).
            if request_key is not None:
                self.cache_hook.add_partial("loglikelihood", request_key, answer)
        return answers
