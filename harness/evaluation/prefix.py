"""Shared-prefix scoring of multiple-choice log-likelihood requests.

A multiple-choice item asks for ``log p(choice | context)`` for each of its 2-5
choices, and every choice has the same context. lm-eval's ``HFLM`` runs
``context + choice`` through the model once per choice (a 300-token SciQ passage
is computed four times) and turns every position, context included, into
full-vocabulary log-probabilities. Here each distinct context runs once, its
keys and values are cached, all its continuations are scored against that
cache, and logits are computed only where a continuation token is predicted.

How one request is scored (lm-eval's definition, unchanged)::

    context c1 .. cn, continuation x1 .. xm
    prefix pass:        c1 .. c(n-1)                    -> cached keys/values, no logits
    continuation pass:  cn, x1 .. x(m-1) over the cache -> logits predicting x1 .. xm
    answer:             (sum of log p(xj | ...), whether every xj is the argmax)

In the continuation pass, one row holds all the continuations of one context,
one after another; a 4D attention mask lets each continuation see the cached
context and its own earlier tokens only, and explicit position ids restart
each continuation right after the context. So a context's cache is used as is,
never copied once per continuation.

Batching and memory: contexts, longest first, are split into *prefix batches*;
each batch's rows, longest first, into *chunks*. Each forward pass stays within
``max_batch_tokens`` (prefix batch: contexts x longest prefix; chunk: rows x
(longest prefix + longest row)), and the cut points minimise padding plus a
fixed cost per pass (:data:`harness.evaluation.prefix_plan.PASS_COST_TOKENS`).
Peak memory therefore grows with ``max_batch_tokens`` (about twice that many
tokens of keys/values, plus the vocabulary logits of :data:`_HEAD_CHUNK` nodes:
real nodes' states are projected a few at a time, padding never), never with
the number of items; only one sequence longer than the budget exceeds it, as a
sequence is never split.

This module is the core, :func:`score_continuations` on token ids, and
needs no lm-eval (``domain_mc`` uses it directly); the plan of each run
(contexts, trie rows, batch cuts) is :mod:`harness.evaluation.prefix_plan`.
lm-eval's benchmarks reach it through
:class:`harness.evaluation.lm_eval_adapter.PrefixLM`, an ``HFLM`` whose only
change is to score tokenised log-likelihood requests here.
"""

from __future__ import annotations

import inspect
import logging
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Sequence

import torch
from transformers import DynamicCache

from harness.evaluation.prefix_plan import (Context, Request, Row, cut_batches, group_by_context, trie_rows,
                                             prefix_batches)
from harness.models.masks import custom_mask_blocker

log = logging.getLogger(__name__)

# Tokens per forward pass. 4096 keeps a 135M-parameter model's passes well under
# 1 GB on a CPU; on a GPU a larger budget (16k-64k) fills the device better.
DEFAULT_MAX_BATCH_TOKENS = 4096

# Attention implementations that apply an arbitrary 4D mask (flash-attention
# kernels take padding information in other forms).
_SUPPORTED_ATTENTION = {None, "eager", "sdpa"}

Answer = tuple[float, bool]  # (log p(continuation | context), whether every token is the argmax)


def unsupported_reason(model: Any) -> str | None:
    """Why ``model`` cannot be scored from shared prefixes (None when it can).

    The continuation pass gives each token an explicit 4D mask over the cached
    keys (``harness.models.masks``).
    """
    return custom_mask_blocker(model, _SUPPORTED_ATTENTION)


def score_continuations(
    model: Any,
    requests: Sequence[Request],
    *,
    max_batch_tokens: int = DEFAULT_MAX_BATCH_TOKENS,
    max_length: int | None = None,
    progress: Callable[[int], Any] | None = None,
) -> list[Answer]:
    """``(log p(continuation | context), is_greedy)`` for each ``(context ids, continuation ids)``.

    Exactly lm-eval's definition: the sum of the continuation tokens'
    log-probabilities (normalised in fp32), and whether each of them is the
    model's top-scoring token at its position. Answers come back in request order.

    ``model`` is a transformers causal LM (a PEFT wrapper works too); one that
    cannot share prefixes (:func:`unsupported_reason`) gets the same answers the
    slow way, each request run whole.
    ``max_batch_tokens`` bounds the tokens of each forward pass, hence memory.
    ``max_length``, when given, left-truncates like ``HFLM``: only the last
    ``max_length + 1`` tokens of context + continuation are kept. ``progress`` is
    called with the number of requests each chunk finished (a tqdm's ``update``).
    Contexts and continuations must be non-empty (lm-eval puts a BOS/EOS token
    in front of an empty context before it gets here).
    """
    if max_batch_tokens < 1:
        raise ValueError(f"max_batch_tokens must be positive, got {max_batch_tokens}")
    contexts = group_by_context(requests, max_length)
    reason = unsupported_reason(model)
    if reason is not None:
        log.info("scoring each request whole: shared prefixes are not supported here (%s)", reason)
        return _score_whole(model, requests, contexts, max_batch_tokens, progress)
    continuations = [list(continuation) for _, continuation in requests]
    runner = _Runner(model)
    answers: list[Answer | None] = [None] * len(requests)
    with torch.inference_mode():
        for batch in prefix_batches(contexts, max_batch_tokens):
            prefix = runner.run_prefixes(batch)
            # A row's tokens attend to the batch's whole (padded) prefix width.
            capacity = max_batch_tokens - prefix.width
            rows = [row for slot, ctx in enumerate(batch) for row in trie_rows(ctx, slot, continuations, capacity)]
            rows.sort(key=lambda row: -row.length)
            for chunk in cut_batches(rows, lambda row: row.length, max_batch_tokens, extra_width=prefix.width):
                for request, answer in runner.score_rows(prefix, chunk):
                    answers[request] = answer
                if progress is not None:
                    progress(sum(len(row.requests) for row in chunk))
    return answers  # type: ignore[return-value]  # every request is in exactly one row


# ------------------------------------------------------------------ model calls


@dataclass
class _Prefix:
    """The prefix pass of one batch: cached keys/values and which cache slots are real."""

    cache: Any  # a transformers Cache, or None when every prefix is empty
    mask: torch.Tensor  # [contexts, width] bool: True for real tokens, False for right padding
    lengths: torch.Tensor  # [contexts]: true prefix lengths (the next token's position)

    @property
    def width(self) -> int:
        return self.mask.shape[1]


class _Runner:
    """Runs prefix and continuation passes of one model, whatever its transformers version."""

    def __init__(self, model: Any) -> None:
        self.model = model
        self.device = model.device
        base = model.get_base_model() if hasattr(model, "get_base_model") else model  # PEFT wrappers
        parameters = inspect.signature(base.forward).parameters
        # transformers 5 renamed ``past_key_values`` to ``cache`` (the old name still works, with a warning).
        self.cache_arg = "cache" if "cache" in parameters else "past_key_values"
        # Most causal LMs can skip the vocabulary projection for positions nobody reads.
        self.keeps_logits = "logits_to_keep" in parameters
        # The prefix pass needs only keys and values: running the decoder alone skips the
        # vocabulary projection altogether. (``logits_to_keep=1`` slices the hidden states
        # first, and on CPU a linear layer over such a strided slice with a weight that needs
        # no gradient, as in every merged fine-tune, copies the whole vocabulary matrix per row.)
        self.decoder = _decoder_of(base)
        # The continuation pass also runs the decoder alone and projects only real nodes'
        # states, a chunk at a time, when that is exactly how the model makes its logits.
        self.head = _plain_head(base, self.decoder)

    def run_prefixes(self, contexts: list[Context]) -> _Prefix:
        """Run every context's prefix once (right-padded) and keep the keys/values."""
        lengths = [ctx.prefix_length for ctx in contexts]
        width = max(lengths)
        ids = torch.zeros((len(contexts), width), dtype=torch.long)
        mask = torch.zeros((len(contexts), width), dtype=torch.bool)
        for row, ctx in enumerate(contexts):
            ids[row, : ctx.prefix_length] = torch.tensor(ctx.tokens[:-1])
            mask[row, : ctx.prefix_length] = True
        ids, mask = ids.to(self.device), mask.to(self.device)
        lengths_t = torch.tensor(lengths, device=self.device)
        if width == 0:
            return _Prefix(cache=None, mask=mask, lengths=lengths_t)
        positions = torch.arange(width, device=self.device).expand(len(contexts), width)
        if self.decoder is not None:
            out = self.decoder(input_ids=ids, attention_mask=mask.long(), use_cache=True, position_ids=positions)
        else:
            kwargs = {"logits_to_keep": 1} if self.keeps_logits else {}  # only the cache is read
            out = self.model(input_ids=ids, attention_mask=mask.long(), use_cache=True, position_ids=positions,
                             **kwargs)
        cache = out.cache if getattr(out, "cache", None) is not None else out.past_key_values
        return _Prefix(cache=cache, mask=mask, lengths=lengths_t)

    def score_rows(self, prefix: _Prefix, rows: list[Row]) -> Iterator[tuple[int, Answer]]:
        """Score every continuation in ``rows`` against its context's cached prefix."""
        width = rows[0].length  # rows come longest first
        ids = torch.zeros((len(rows), width), dtype=torch.long)
        depth = torch.zeros((len(rows), width), dtype=torch.long)
        seen = torch.zeros((len(rows), width, width), dtype=torch.bool)  # node a may attend to node b
        node_index: list[list[int]] = []  # per row: each node's index among all the chunk's nodes
        for r, row in enumerate(rows):
            n = row.length
            ids[r, :n] = torch.tensor(row.inputs)
            depth[r, :n] = torch.tensor(row.depths)
            for node, parent in enumerate(row.parents):  # parents come before their children
                if parent >= 0:
                    seen[r, node] = seen[r, parent]
                seen[r, node, node] = True
            seen[r, range(n, width), range(n, width)] = True  # padding sees itself: no fully masked row
            first = sum(other.length for other in rows[:r])
            node_index.append(list(range(first, first + n)))
        owner = torch.tensor([row.context for row in rows], device=self.device)
        inputs = dict(
            input_ids=ids.to(self.device),
            # Each node sits where it would in context + continuation.
            position_ids=prefix.lengths[owner].unsqueeze(1) + depth.to(self.device),
            attention_mask=self._continuation_mask(prefix.mask[owner], seen.to(self.device), self._dtype()),
            use_cache=True,
            **({self.cache_arg: _cache_rows(prefix.cache, owner)} if prefix.cache is not None else {}),
        )
        real = torch.arange(width, device=self.device) < torch.tensor([row.length for row in rows],
                                                                       device=self.device).unsqueeze(1)
        # Every real node once, row-major like ``node_index``: padding never reaches the vocabulary.
        if self.head is not None:
            states, project = self.decoder(**inputs).last_hidden_state[real], self.head
        else:
            states, project = self.model(**inputs).logits[real], None
        nodes = torch.tensor([node_index[r][node] for r, row in enumerate(rows) for path in row.paths for node in path],
                             device=self.device)
        targets = torch.tensor([token for row in rows for c in row.continuations for token in c], device=self.device)
        token_logprobs, token_greedy = _token_scores(states, project, nodes, targets)
        requests = [request for row in rows for request in row.requests]
        sizes = [len(c) for row in rows for c in row.continuations]
        for request, lp, is_greedy in zip(requests, token_logprobs.split(sizes), token_greedy.split(sizes)):
            yield request, (float(lp.sum()), bool(is_greedy.all()))

    @staticmethod
    def _continuation_mask(past: torch.Tensor, seen: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
        """Additive 4D mask [rows, 1, new, past + new] for a continuation pass.

        A node sees its context's real cached tokens and its ancestors in the
        row's trie (``seen``, which includes itself).
        """
        width = seen.shape[1]
        allowed = torch.cat([past.unsqueeze(1).expand(-1, width, -1), seen], dim=2)
        blocked = torch.zeros(allowed.shape, dtype=dtype, device=seen.device)
        blocked.masked_fill_(~allowed, torch.finfo(dtype).min)
        return blocked.unsqueeze(1)

    def _dtype(self) -> torch.dtype:
        # The attention scores' dtype: the model's, or the autocast dtype when one is active.
        if torch.is_autocast_enabled(self.device.type):
            return torch.get_autocast_dtype(self.device.type)
        return self.model.dtype


def _decoder_of(model: Any) -> Any:
    """The transformer stack under ``model``'s language-model head, when it exposes one (else None).

    Under a PEFT wrapper, ``model`` is the wrapped model: its decoder holds the
    adapter layers, so running it alone still applies them.
    """
    get_decoder = getattr(model, "get_decoder", None)
    if get_decoder is None:
        return None
    try:
        decoder = get_decoder()
    except (AttributeError, NotImplementedError):
        return None
    return decoder if isinstance(decoder, torch.nn.Module) and decoder is not model else None


def _plain_head(model: Any, decoder: Any) -> Any:
    """``model``'s output layer when its logits are exactly that layer over ``decoder``'s states (else None).

    True of most causal LMs; not of those that scale or soft-cap their logits
    (Cohere, Granite, Gemma 2), which the check below catches without naming
    them: a three-token probe through both paths must agree bit for bit.
    """
    head = model.get_output_embeddings() if decoder is not None and hasattr(model, "get_output_embeddings") else None
    if not isinstance(head, torch.nn.Module):
        return None
    probe = torch.tensor([[1, 2, 3]], device=model.device)
    with torch.inference_mode():
        try:
            whole = model(input_ids=probe).logits
            split = head(decoder(input_ids=probe).last_hidden_state)
        except Exception:  # noqa: BLE001 - any failure just means: use the model's own logits
            return None
    return head if whole.shape == split.shape and torch.equal(whole, split) else None


# Nodes whose vocabulary logits exist at once (fp32: 128 x 49k x 4 bytes = 25 MB for SmolLM2):
# small enough to stay in cache between the projection, the normaliser and the argmax.
_HEAD_CHUNK = 128


def _token_scores(states: torch.Tensor, project: Any, nodes: torch.Tensor,
                  targets: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``log p(target)`` and whether ``target`` is the argmax, for each ``(node, target)`` pair.

    ``states`` holds one row per node: decoder states that ``project`` turns into
    vocabulary logits, or the logits themselves when ``project`` is None. Logits
    are normalised in fp32 (log p = logit - logsumexp), a chunk of nodes at a time,
    so no pass ever holds every node's full-vocabulary scores.
    """
    logprobs = torch.empty(len(nodes), dtype=torch.float32, device=states.device)
    greedy = torch.empty(len(nodes), dtype=torch.bool, device=states.device)
    for start in range(0, states.shape[0], _HEAD_CHUNK):
        chunk = states[start : start + _HEAD_CHUNK]
        logits = (chunk if project is None else project(chunk)).float()
        here = (nodes >= start) & (nodes < start + len(chunk))
        local, wanted = nodes[here] - start, targets[here]
        logprobs[here] = logits[local, wanted] - logits.logsumexp(dim=-1)[local]
        greedy[here] = logits.argmax(dim=-1)[local] == wanted
    return logprobs, greedy


def _cache_rows(cache: Any, index: torch.Tensor) -> Any:
    """A new cache holding rows ``index`` of ``cache`` (one per continuation row, in chunk order).

    The continuation pass appends its own keys/values to the cache it is given,
    so each chunk gets a fresh one and the prefix cache stays intact for the
    batch's next chunk.
    """
    layers = [(layer.keys.index_select(0, index), layer.values.index_select(0, index)) for layer in cache.layers]
    return DynamicCache(ddp_cache_data=layers)


def _score_whole(model: Any, requests: Sequence[Request], contexts: list[Context], budget: int,
                 progress: Callable[[int], Any] | None) -> list[Answer]:
    """The fallback: each request as one right-padded sequence, context and continuation together."""
    items = [(ctx.tokens, request) for ctx in contexts for request in ctx.requests]  # longest context first
    sequences = {request: [*tokens, *requests[request][1]][:-1] for tokens, request in items}
    order = sorted(sequences, key=lambda request: -len(sequences[request]))
    answers: list[Answer | None] = [None] * len(requests)
    with torch.inference_mode():
        for batch in cut_batches(order, lambda request: len(sequences[request]), budget):
            width = len(sequences[batch[0]])
            ids = torch.zeros((len(batch), width), dtype=torch.long)
            mask = torch.zeros((len(batch), width), dtype=torch.long)
            for row, request in enumerate(batch):
                ids[row, : len(sequences[request])] = torch.tensor(sequences[request])
                mask[row, : len(sequences[request])] = 1
            logits = model(input_ids=ids.to(model.device), attention_mask=mask.to(model.device)).logits
            for row, request in enumerate(batch):
                continuation = torch.tensor(requests[request][1], device=logits.device)
                end = len(sequences[request])  # the continuation is predicted by the last len(continuation) positions
                logprobs = torch.log_softmax(logits[row, end - len(continuation) : end].float(), dim=-1)
                answers[request] = (float(logprobs.gather(1, continuation.unsqueeze(1)).sum()),
                                    bool((logprobs.argmax(dim=-1) == continuation).all()))
            if progress is not None:
                progress(len(batch))
    return answers  # type: ignore[return-value]
