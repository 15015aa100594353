"""Self-synthesized rehearsal: general examples answered by the base model itself.

Mixing in data the base model already produces pulls the fine-tuned model back
toward its original behaviour without any external general data set, so it
works offline and for models whose training data is unknown (Huang et al. 2024,
"Mitigating Catastrophic Forgetting in Large Language Models with
Self-Synthesized Rehearsal"). Prompts come from the general sources when given,
otherwise from offline question sets that are not in the evaluation suite.
"""

from __future__ import annotations

import hashlib
import json
import random
from pathlib import Path

from pydantic import Field

from harness import ComponentOptions, DataSource, Example, Message, MixContext, Mixer, MixResult, UsageError
from harness.helpers import generate, load_prompt_set

from .common import blend, decontaminate, general_count, log, manifest, shortfall
from .generation import AnswerCache, prompt_key, prompt_messages, prompts_hash


class SelfRehearsalMixer(Mixer):
    """Add ``int(n*r/(1-r))`` examples whose answers the base model generated (greedy, cached)."""

    name = "self_rehearsal"
    aliases = ("ssr",)
    summary = "general prompts answered by the base model itself (offline; cached by weights fingerprint)"

    class Options(ComponentOptions):
        prompt_sets: list[str] = Field(default_factory=lambda: ["builtin:trivia_qa", "builtin:nq_open"])
        max_new_tokens: int = Field(192, ge=1, le=8192)
        batch_size: int = Field(8, ge=1)
        # An answer cut at max_new_tokens would teach the model to stop mid-sentence.
        keep_unfinished: bool = False
        allow_shortfall: bool = False

    def mix(self, domain: DataSource, general: list[DataSource], context: MixContext) -> MixResult:
        if context.load_base_model is None:
            raise UsageError("the self_rehearsal mixer needs the base model, but this caller did not provide one")
        sources = general or [DataSource(name, load_prompt_set(name)) for name in self.options.prompt_sets]
        domain, sources, decontamination = decontaminate(domain, sources, context)
        prompts, names, keys = [], [], []
        seen: set[str] = set()
        for source in sources:
            for example in source.examples:
                if not example.is_chat:
                    continue
                messages = prompt_messages(example)
                key = prompt_key(messages)
                if key not in seen:
                    seen.add(key)
                    prompts.append(messages)
                    names.append(source.name)
                    keys.append(key)
        needed = general_count(len(domain.examples), context.general_share)
        loaded = context.load_base_model()
        fingerprint = loaded.fingerprint or _weights_fingerprint(loaded.model)
        settings = {"decoding": "greedy", "max_new_tokens": self.options.max_new_tokens,
                    "chat_template": hashlib.sha256(str(loaded.tokenizer.chat_template).encode()).hexdigest()[:16]}
        meta = {"model": loaded.name, "fingerprint": fingerprint, "prompts": len(keys),
                "prompts_sha256": prompts_hash(keys), "settings": settings}
        cache_key = hashlib.sha256(json.dumps(meta, sort_keys=True).encode()).hexdigest()[:20]
        cache = AnswerCache(Path(context.cache_dir) / "self_rehearsal" / f"{cache_key}.jsonl", meta)

        order = list(range(len(prompts)))
        random.Random(context.seed).shuffle(order)
        chosen: list[int] = []
        fresh: set[str] = set()
        unusable = position = 0
        progress = _progress(needed)
        # Walk the shuffled prompts, answering only what the cache lacks, until enough answers are usable.
        while len(chosen) < needed and position < len(order):
            window = order[position: position + min(needed - len(chosen), 4 * self.options.batch_size)]
            position += len(window)
            missing = [i for i in window if keys[i] not in cache]
            for start in range(0, len(missing), self.options.batch_size):
                batch = missing[start:start + self.options.batch_size]
                answers = generate(loaded, [prompts[i] for i in batch],
                                   max_new_tokens=self.options.max_new_tokens, batch_size=self.options.batch_size)
                cache.add({keys[i]: a for i, a in zip(batch, answers)})
                fresh.update(keys[i] for i in batch)
            for i in window:
                answer = cache[keys[i]]
                if answer.text and (answer.finished or self.options.keep_unfinished):
                    chosen.append(i)
                    progress.update(1)
                else:
                    unusable += 1
            if unusable > max(needed, 32) and unusable > 2 * len(chosen):
                raise UsageError(
                    f"self_rehearsal: {unusable} of {position} base-model answers were empty or cut at "
                    f"max_new_tokens={self.options.max_new_tokens}; raise max_new_tokens or set keep_unfinished: true"
                )
        progress.close()
        cut = (f" ({unusable} answers were empty or cut at max_new_tokens={self.options.max_new_tokens}; "
               f"raise max_new_tokens or set keep_unfinished: true)") if unusable else ""
        shortfall(self.name, needed, len(chosen), self.options.allow_shortfall,
                  f"the prompt pool of {len(prompts)}{cut}")
        rehearsal = [
            Example(messages=tuple(Message(m["role"], m["content"]) for m in prompts[i])
                    + (Message("assistant", cache[keys[i]].text),), origin=f"self_rehearsal:{names[i]}")
            for i in chosen
        ]
        counts = {source.name: 0 for source in sources}
        for i in chosen:
            counts[names[i]] += 1
        from_cache = sum(1 for i in chosen if keys[i] not in fresh)
        log.info("self_rehearsal: %d answers generated, %d used from the cache", len(fresh), from_cache)
        return MixResult(blend(domain.examples, rehearsal, context.seed), manifest(
            self.name, len(domain.examples), counts, needed, context.general_share, context.seed,
            generated=len(fresh), from_cache=from_cache, unusable_answers=unusable,
            cache_file=str(cache.path), base_fingerprint=fingerprint, generation=settings,
            prompt_sources=[s.name for s in sources], prompt_pool=len(prompts), decontamination=decontamination,
        ))


def _weights_fingerprint(model: object) -> str:
    from harness.helpers import weights_fingerprint

    return weights_fingerprint(model)


def _progress(total: int):
    from harness.helpers import stage_bar

    return stage_bar("self-rehearsal answers", total=total, unit="answer")
