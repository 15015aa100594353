"""The evaluation engine: run benchmarks on a model in memory, sample items, cache results.

Three guarantees:

- **Same items for every model.** :func:`sample_item_ids` picks items from their
  ids and the seed alone, never from the model, so base and candidate are scored
  on exactly the same sample and every comparison can be paired.
- **A cached result is never served for another model.** The cache key holds a
  digest of the weights *as they are now* (recomputed at evaluation time, never
  trusted from a possibly stale record), the benchmark's definition fingerprint,
  the sample and the scoring settings; the stored entry repeats the weights
  digest and is checked again on read.
- **Adapters evaluate at base speed.** :func:`merge_adapter` folds a LoRA adapter
  into a copy of the base weights in memory (an unmerged adapter made scoring
  2-3x slower here); the saved adapter is only read.
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

from harness.api import Benchmark, BenchmarkResult, ItemScore, LoadedModel, UsageError
from harness.models import cache_root, load_model, weights_fingerprint

log = logging.getLogger(__name__)

# Bump when the meaning of a cached entry changes (e.g. a scoring fix).
CACHE_FORMAT = 1


def sample_item_ids(item_ids: Iterable[str], limit: int | None, seed: int) -> list[str]:
    """Up to ``limit`` of ``item_ids``, chosen by the seed alone, in a stable order.

    Each id is ranked by a hash of (seed, id), so the choice does not depend on
    the order ids arrive in, and growing a benchmark keeps earlier picks mostly
    stable. ``limit=None`` keeps every item. The result is sorted by that rank.
    """
    ids = list(dict.fromkeys(item_ids))
    ranked = sorted(ids, key=lambda i: hashlib.sha256(f"{seed}\0{i}".encode()).digest())
    return ranked if limit is None else ranked[:limit]


@dataclass(frozen=True)
class ScoringSettings:
    """What, besides the weights and the benchmark, changes a score."""

    limit: int | None
    seed: int
    batch_size: int
    dtype: str
    device: str

    def key(self) -> dict:
        # Device and dtype change the arithmetic, and batch size the padding, so
        # results under different settings are kept apart even when close.
        return {"limit": self.limit, "seed": self.seed, "batch_size": self.batch_size,
                "dtype": self.dtype, "device": self.device}


class ResultCache:
    """Per-item benchmark results on disk, keyed so no model can see another's."""

    def __init__(self, folder: Path | None = None) -> None:
        self.folder = Path(folder) if folder is not None else cache_root() / "eval-results"

    @staticmethod
    def key(weights: str, benchmark: Benchmark, settings: ScoringSettings) -> tuple[str, dict]:
        fields = {
            "format": CACHE_FORMAT,
            "weights": weights,
            "benchmark": benchmark.name,
            "definition": benchmark.definition_fingerprint(),
            "scoring": settings.key(),
        }
        digest = hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()
        return digest, fields

    def _path(self, digest: str) -> Path:
        return self.folder / digest[:2] / f"{digest}.json"

    def get(self, digest: str, fields: dict) -> BenchmarkResult | None:
        path = self._path(digest)
        if not path.is_file():
            return None
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            log.warning("ignoring unreadable cache entry %s", path)
            return None
        # The key already covers this; checking the stored fields too means even a
        # hash collision or a hand-copied file cannot hand one model another's scores.
        if data.get("key") != json.loads(json.dumps(fields, sort_keys=True)):
            log.warning("cache entry %s does not match its key; ignoring it", path)
            return None
        result = data["result"]
        return BenchmarkResult(
            benchmark=result["benchmark"],
            metric=result["metric"],
            items=[ItemScore(i, s) for i, s in result["items"]],
            seconds=result["seconds"],
            extra={**result.get("extra", {}), "cached": True},
        )

    def put(self, digest: str, fields: dict, result: BenchmarkResult) -> None:
        path = self._path(digest)
        path.parent.mkdir(parents=True, exist_ok=True)
        payload = {
            "key": fields,
            "result": {
                "benchmark": result.benchmark,
                "metric": result.metric,
                "items": [[i.item_id, i.score] for i in result.items],
                "seconds": result.seconds,
                "extra": result.extra,
            },
        }
        # Write-then-rename: a crash or a parallel writer never leaves half a file.
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(payload, handle)
        os.replace(tmp, path)


def evaluate(
    model: LoadedModel,
    benchmarks: Sequence[Benchmark],
    *,
    limit: int | None,
    seed: int,
    batch_size: int,
    limits: dict[str, int | None] | None = None,
    cache: ResultCache | None | bool = True,
) -> dict[str, BenchmarkResult]:
    """Score ``model`` on each benchmark, reusing cached results for these exact weights.

    ``limits`` overrides ``limit`` per benchmark name. ``cache=False`` disables
    caching; ``True`` uses the default folder under :func:`harness.models.cache_root`.
    """
    if cache is True:
        cache = ResultCache()
    # Recomputed, not read from model.fingerprint: the weights may have been
    # trained or merged in place since the model was loaded.
    weights = weights_fingerprint(model.model)
    if model.fingerprint and model.fingerprint != weights:
        log.info("%s: weights changed since loading; using the current digest", model.name)
    model.fingerprint = weights
    results: dict[str, BenchmarkResult] = {}
    for benchmark in benchmarks:
        bench_limit = (limits or {}).get(benchmark.name, limit)
        settings = ScoringSettings(bench_limit, seed, batch_size, model.dtype, model.device)
        digest, fields = ResultCache.key(weights, benchmark, settings) if cache else ("", {})
        cached = cache.get(digest, fields) if cache else None
        if cached is not None:
            log.info("%s: cached result for these weights (%s)", benchmark.name, digest[:12])
            results[benchmark.name] = cached
            continue
        start = time.perf_counter()
        result = benchmark.evaluate(model, limit=bench_limit, seed=seed, batch_size=batch_size)
        result.seconds = result.seconds or time.perf_counter() - start
        if not result.items:
            raise UsageError(f"benchmark {benchmark.name!r} scored no items")
        result.extra.setdefault("weights", weights)
        if cache:
            cache.put(digest, fields, result)
        results[benchmark.name] = result
    return results


def merge_adapter(base: LoadedModel, adapter_dir: str | Path, *, copy_weights: bool = True) -> LoadedModel:
    """``base`` with a PEFT LoRA adapter merged into a *copy* of its weights.

    The base model in memory and the adapter folder on disk are left untouched;
    the returned model has plain weights, so it scores as fast as the base.
    ``copy_weights=False`` merges into ``base.model`` itself (for a base that was
    loaded only to be merged, saving a second copy of the weights).
    """
    adapter_dir = Path(adapter_dir)
    if not (adapter_dir / "adapter_config.json").is_file():
        raise UsageError(f"adapter {adapter_dir}: no adapter_config.json there (is it a PEFT adapter folder?)")
    from peft import PeftModel

    clone = copy.deepcopy(base.model) if copy_weights else base.model
    try:
        peft_model = PeftModel.from_pretrained(clone, str(adapter_dir), is_trainable=False)
    except (ValueError, KeyError, RuntimeError) as error:
        raise UsageError(f"adapter {adapter_dir} does not fit model {base.name!r}: {error}") from None
    merged = peft_model.merge_and_unload()
    merged.eval()
    return LoadedModel(
        model=merged,
        tokenizer=base.tokenizer,
        name=f"{base.name}+{adapter_dir.name}",
        fingerprint=weights_fingerprint(merged),
        device=base.device,
        dtype=base.dtype,
    )


def load_eval_model(
    spec: str,
    *,
    adapter: str | Path | None = None,
    device: str = "auto",
    dtype: str = "auto",
    trust_remote_code: bool = False,
) -> LoadedModel:
    """Load a model ready to evaluate: the base, or the base with ``adapter`` merged in."""
    base = load_model(spec, device=device, dtype=dtype, trust_remote_code=trust_remote_code, fingerprint=False)
    if adapter is None:
        return base
    # This base was loaded for the merge alone, so merging in place saves a copy.
    return merge_adapter(base, adapter, copy_weights=False)


def instantiate(harness, names: Sequence[str], options: dict[str, dict] | None = None) -> list[Benchmark]:
    """Benchmark instances for registered names, options validated by each plugin's ``Options``."""
    from pydantic import ValidationError

    out = []
    for name in names:
        cls = harness.benchmark(name)
        try:
            opts = cls.Options(**(options or {}).get(name, {}))
        except ValidationError as error:
            raise UsageError(f"benchmark {name!r}: invalid options: {error}") from None
        out.append(cls(opts))
    return out
