"""Domain benchmarks: multiple-choice accuracy and held-out loss on the domain's own data.

``domain_mc`` asks each question the way the fine-tuned model will be asked (as a
user turn in the model's chat template) and picks the answer choice with the
highest log-likelihood as the assistant's reply. ``domain_loss`` is the mean
assistant-token loss on held-out conversations (and its perplexity).

Both score batches of padded sequences in one forward pass each, in the model's
own dtype (bf16 where the hardware supports it), with a progress bar.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from pathlib import Path
from typing import Any, Iterator, Literal, Sequence

from harness import (
    Benchmark,
    BenchmarkResult,
    ComponentOptions,
    Example,
    ItemDetail,
    ItemScore,
    LoadedModel,
    Message,
    UsageError,
)
from harness.helpers import encode, IGNORE_INDEX
from harness.hookspecs import hookimpl

EXAMPLE_DATA = Path(__file__).resolve().parents[1] / "example_data" / "emergency_response"


def _read_jsonl(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    if not path.is_file():
        raise UsageError(f"{path}: no such file")
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as error:
                raise UsageError(f"{path}:{number}: not valid JSON ({error.msg})") from None
            if not isinstance(record, dict):
                raise UsageError(f"{path}:{number}: expected a JSON object")
            yield number, record


def _file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def _topic(record: dict[str, Any]) -> str | None:
    topic = record.get("topic")
    return str(topic) if topic not in (None, "") else None


# ------------------------------------------------------------------ scoring helpers


def _batches(items: list, size: int) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _continuation_logprobs(model: LoadedModel, pairs: list[tuple[list[int], list[int]]], batch_size: int) -> list[float]:
    """Sum of log p(continuation | context) for each (context ids, continuation ids) pair.

    Each question's prompt runs once for all its choices (shared-prefix scoring);
    batches are sized in tokens, not items, so ``batch_size`` is not used here.
    """
    from tqdm.auto import tqdm

    from harness.scoring import score_continuations

    with tqdm(total=len(pairs), desc="scoring choices", leave=False) as bar:
        answers = score_continuations(model.model, pairs, progress=bar.update)
    return [logprob for logprob, _ in answers]


# ----------------------------------------------------------------------- domain_mc


class DomainMcOptions(ComponentOptions):
    """Where the questions are, and how a choice's likelihood is normalised."""

    path: str | None = None  # default: the example data set's benchmark.jsonl
    normalize: Literal["none", "chars"] = "chars"  # per-character log-likelihood by default
    system_prompt: str | None = None


class DomainMultipleChoice(Benchmark):
    """Multiple-choice accuracy on a domain question file, via the model's chat template.

    Each line: ``{"id", "question", "choices": [...], "answer": index}`` (other keys,
    like ``topic``, are carried along in ``extra``).
    """

    name = "domain_mc"
    summary = "multiple-choice accuracy on domain questions, scored by choice log-likelihood"
    Options = DomainMcOptions
    role = "domain"

    @property
    def path(self) -> Path:
        return Path(self.options.path).expanduser() if self.options.path else EXAMPLE_DATA / "benchmark.jsonl"

    def questions(self) -> dict[str, dict[str, Any]]:
        """The question file, validated: every problem names its file and line."""
        out: dict[str, dict[str, Any]] = {}
        for number, record in _read_jsonl(self.path):
            where = f"{self.path}:{number}"
            for key in ("id", "question", "choices", "answer"):
                if key not in record:
                    raise UsageError(f"{where}: missing key {key!r}")
            choices, answer = record["choices"], record["answer"]
            if not (isinstance(choices, list) and len(choices) >= 2 and all(isinstance(c, str) and c for c in choices)):
                raise UsageError(f"{where}: 'choices' must be a list of at least two non-empty strings")
            if not (isinstance(answer, int) and 0 <= answer < len(choices)):
                raise UsageError(f"{where}: 'answer' must be an index into 'choices' (0..{len(choices) - 1}), got {answer!r}")
            item_id = str(record["id"])
            if item_id in out:
                raise UsageError(f"{where}: duplicate id {item_id!r}")
            out[item_id] = record
        if not out:
            raise UsageError(f"{self.path}: no questions")
        return out

    def definition_fingerprint(self) -> str:
        fields = {"file": _file_digest(self.path), "normalize": self.options.normalize,
                  "system": self.options.system_prompt, "format": 1}
        return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:16]

    def _prompt(self, question: str, tokenizer: Any) -> list[int]:
        messages = [{"role": "user", "content": question}]
        if self.options.system_prompt:
            messages.insert(0, {"role": "system", "content": self.options.system_prompt})
        text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        return tokenizer(text, add_special_tokens=False)["input_ids"]

    def item_ids(self) -> list[str]:
        return list(self.questions())

    def item_details(self, items: Sequence[str]) -> dict[str, ItemDetail]:
        """Each question, its correct choice, and its ``topic`` (the group per-topic forgetting uses)."""
        questions = self.questions()
        return {i: ItemDetail(text=questions[i]["question"], answer=questions[i]["choices"][questions[i]["answer"]],
                              group=_topic(questions[i])) for i in items if i in questions}

    def evaluate(self, model: LoadedModel, *, items: Sequence[str], batch_size: int) -> BenchmarkResult:
        start = time.perf_counter()
        questions = self.questions()
        tokenizer = model.tokenizer
        pairs, owners = [], []
        for item_id in items:
            record = questions[item_id]
            context = self._prompt(record["question"], tokenizer)
            for index, choice in enumerate(record["choices"]):
                pairs.append((context, tokenizer(choice, add_special_tokens=False)["input_ids"]))
                owners.append((item_id, index, len(choice)))
        logprobs = _continuation_logprobs(model, pairs, batch_size)
        best: dict[str, tuple[float, int]] = {}
        for (item_id, index, chars), logprob in zip(owners, logprobs):
            value = logprob / chars if self.options.normalize == "chars" else logprob
            # Strict '>' keeps the first choice on exact ties: deterministic.
            if item_id not in best or value > best[item_id][0]:
                best[item_id] = (value, index)
        scored = [ItemScore(i, float(best[i][1] == questions[i]["answer"]), 1 / len(questions[i]["choices"]))
                  for i in items]
        return BenchmarkResult(
            benchmark=self.name,
            metric="acc",
            items=scored,
            seconds=time.perf_counter() - start,
            extra={"file": str(self.path), "batch_size": batch_size},
        )


# --------------------------------------------------------------------- domain_loss


class DomainLossOptions(ComponentOptions):
    """The held-out file (chat ``messages`` or plain ``text`` per line) and the scoring window."""

    # Held-out conversations, never trained on (e.g. your validation split written with
    # `harness data split`). Required: there is no file one could safely assume.
    path: str
    max_length: int = 1024
    train_on: Literal["assistant", "all"] = "assistant"


class DomainLoss(Benchmark):
    """Mean held-out loss per conversation (lower is better); perplexity in ``extra``."""

    name = "domain_loss"
    summary = "held-out loss and perplexity on domain conversations (lower is better)"
    Options = DomainLossOptions
    role = "domain"
    higher_is_better = False

    @property
    def path(self) -> Path:
        return Path(self.options.path).expanduser()

    def examples(self) -> dict[str, Example]:
        out: dict[str, Example] = {}
        for number, record in _read_jsonl(self.path):
            where = f"{self.path}:{number}"
            if isinstance(record.get("messages"), list):
                try:
                    messages = tuple(Message(m["role"], m["content"]) for m in record["messages"])
                except (KeyError, TypeError):
                    raise UsageError(f"{where}: each message needs 'role' and 'content'") from None
                example = Example(messages=messages, origin=where)
            elif isinstance(record.get("text"), str):
                example = Example(text=record["text"], origin=where)
            else:
                raise UsageError(f"{where}: expected 'messages' (a list) or 'text' (a string)")
            out[str(record.get("id", number))] = example
        if not out:
            raise UsageError(f"{self.path}: no examples")
        return out

    def definition_fingerprint(self) -> str:
        fields = {"file": _file_digest(self.path), "max_length": self.options.max_length,
                  "train_on": self.options.train_on, "format": 1}
        return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:16]

    def item_ids(self) -> list[str]:
        return list(self.examples())

    def item_details(self, items: Sequence[str]) -> dict[str, ItemDetail]:
        """The conversation up to its last reply (or the text), that reply, and the line's ``topic`` if any."""
        topics = {str(record.get("id", number)): _topic(record) for number, record in _read_jsonl(self.path)}
        examples = self.examples()
        details = {}
        for item in items:
            if item not in examples:
                continue
            example = examples[item]
            if example.is_chat:
                *context, last = example.messages
                text = "\n\n".join(f"{m.role}: {m.content}" for m in context) if last.role == "assistant" else None
                answer = last.content if last.role == "assistant" else None
                details[item] = ItemDetail(text=text or None, answer=answer, group=topics.get(item))
            else:
                details[item] = ItemDetail(text=example.text, group=topics.get(item))
        return details

    def evaluate(self, model: LoadedModel, *, items: Sequence[str], batch_size: int) -> BenchmarkResult:
        import torch
        from tqdm.auto import tqdm

        start = time.perf_counter()
        examples = self.examples()
        chosen = list(items)
        encoded = {i: encode(examples[i], model.tokenizer, max_length=self.options.max_length,
                             train_on=self.options.train_on) for i in chosen}
        empty = [examples[i].origin for i in chosen if encoded[i].trained_tokens < 2]
        if empty:
            raise UsageError(f"{empty[0]}: nothing to score (no assistant tokens within max_length)")
        losses: dict[str, tuple[float, int]] = {}
        pad = model.tokenizer.pad_token_id or 0
        device = model.model.device
        with torch.inference_mode():
            for batch in tqdm(list(_batches(chosen, batch_size)), desc="held-out loss", leave=False):
                width = max(len(encoded[i].input_ids) for i in batch)
                ids = torch.full((len(batch), width), pad, dtype=torch.long)
                labels = torch.full((len(batch), width), IGNORE_INDEX, dtype=torch.long)
                mask = torch.zeros((len(batch), width), dtype=torch.long)
                for row, i in enumerate(batch):
                    n = len(encoded[i].input_ids)
                    ids[row, :n] = torch.tensor(encoded[i].input_ids)
                    labels[row, :n] = torch.tensor(encoded[i].labels)
                    mask[row, :n] = 1
                logits = model.model(input_ids=ids.to(device), attention_mask=mask.to(device)).logits.float()
                targets = labels[:, 1:].to(device)
                token_loss = torch.nn.functional.cross_entropy(
                    logits[:, :-1].transpose(1, 2), targets, ignore_index=IGNORE_INDEX, reduction="none"
                )
                counted = (targets != IGNORE_INDEX).sum(dim=1)
                for row, i in enumerate(batch):
                    losses[i] = (float(token_loss[row].sum()), int(counted[row]))
        total = sum(s for s, _ in losses.values())
        tokens = sum(n for _, n in losses.values())
        return BenchmarkResult(
            benchmark=self.name,
            metric="loss",
            items=[ItemScore(i, losses[i][0] / losses[i][1]) for i in chosen],
            seconds=time.perf_counter() - start,
            extra={"file": str(self.path), "tokens": tokens, "perplexity": math.exp(total / tokens)},
        )


@hookimpl
def harness_register_benchmarks(register):
    register(DomainMultipleChoice)
    register(DomainLoss)
