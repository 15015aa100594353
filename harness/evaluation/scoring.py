"""The evaluation engine: which items a model is scored on, scored once, cached per item.

Three guarantees:

- **Same items for every model.** Each benchmark's items are taken in one fixed
  order chosen by the seed alone (:func:`item_order`), never by the model; a
  sample of ``n`` is the first ``n`` of that order, so base and candidate are
  scored on exactly the same items, and a larger sample extends a smaller one.
- **An item is scored once per set of weights.** :class:`Scorer` keeps every
  outcome in memory and in :class:`ResultCache` on disk, per item, so extending
  a sample (the sequential verdict's next look, a later round's base, another
  run) scores only the new items.
- **A cached result is never served for another model.** The cache key holds a
  digest of the weights *as they are now* (computed when scoring starts, never
  trusted from a possibly stale record), the benchmark's definition fingerprint
  and the scoring dtype and device; the stored entry repeats its key, which is
  checked again on read.

:func:`merge_adapter` folds a LoRA adapter into a copy of the base weights in
memory (an unmerged adapter made scoring 2-3x slower here); the saved adapter is
only read.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

from harness.components import Benchmark
from harness.errors import UsageError
from harness.records import BenchmarkResult, ItemScore, LoadedModel
from harness.files import write_atomic
from harness.models.adapters import merge_adapter
from harness.models.loading import cache_root, load_model, weights_fingerprint

log = logging.getLogger(__name__)

# Bump when the meaning of a cached entry changes (e.g. a scoring fix).
# 2: one entry per (weights, benchmark, dtype, device) holding outcomes per item.
CACHE_FORMAT = 2


def sample_item_ids(item_ids: Iterable[str], limit: int | None, seed: int) -> list[str]:
    """Up to ``limit`` of ``item_ids``, chosen by the seed alone, in a stable order.

    Each id is ranked by a hash of (seed, id), so the choice does not depend on
    the order ids arrive in, and growing a benchmark keeps earlier picks mostly
    stable. ``limit=None`` keeps every item. The result is sorted by that rank,
    so the first ``n`` of a larger sample are exactly the sample of ``n``.
    """
    ids = list(dict.fromkeys(item_ids))
    ranked = sorted(ids, key=lambda i: hashlib.sha256(f"{seed}\0{i}".encode()).digest())
    return ranked if limit is None else ranked[:limit]


def item_order(benchmark: Benchmark, seed: int) -> list[str]:
    """Every item of ``benchmark`` in its fixed seeded order (listed once per benchmark object)."""
    # Kept on the instance: listing items can mean loading a dataset.
    orders = benchmark.__dict__.setdefault("_item_orders", {})
    if seed not in orders:
        ids = [str(i) for i in benchmark.item_ids()]
        if len(set(ids)) != len(ids):
            raise UsageError(f"benchmark {benchmark.name!r} lists duplicate item ids")
        if not ids:
            raise UsageError(f"benchmark {benchmark.name!r} has no items")
        orders[seed] = sample_item_ids(ids, None, seed)
    return orders[seed]


def take_items(benchmark: Benchmark, n: int | None, seed: int) -> list[str]:
    """The first ``n`` items of the benchmark's order; all of them (said once) when it has fewer."""
    order = item_order(benchmark, seed)
    if n is not None and n > len(order):
        _say_once(f"{benchmark.name}: only {len(order)} items, fewer than the {n} asked for; using all {len(order)}")
    return order if n is None else order[:n]


_SAID: set[str] = set()


def _say_once(message: str) -> None:
    if message not in _SAID:
        _SAID.add(message)
        log.warning(message)


@dataclass(frozen=True)
class ScoringSettings:
    """What, besides the weights and the benchmark, changes an item's outcome."""

    dtype: str
    device: str

    def key(self) -> dict:
        # Device and dtype change the arithmetic, so their results are kept apart even
        # when close. Batch composition changes only the last bits of a log-likelihood.
        return {"dtype": self.dtype, "device": self.device}


class ResultCache:
    """Per-item benchmark outcomes on disk, keyed so no model can see another's."""

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

    def get(self, digest: str, fields: dict) -> dict[str, ItemScore]:
        """The outcomes stored under this key (empty when none, or when the entry is not this key's)."""
        path = self._path(digest)
        if not path.is_file():
            return {}
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            log.warning("ignoring unreadable cache entry %s", path)
            return {}
        # The key already covers this; checking the stored fields too means even a
        # hash collision or a hand-copied file cannot hand one model another's scores.
        if data.get("key") != json.loads(json.dumps(fields, sort_keys=True)):
            log.warning("cache entry %s was written for other weights or settings; not serving it", path)
            return {}
        return {item[0]: ItemScore(*item) for item in data["items"]}  # [id, score, chance(, margin)]

    def put(self, digest: str, fields: dict, metric: str, items: Iterable[ItemScore]) -> None:
        """Add ``items`` to the entry (what is already there is kept)."""
        merged = self.get(digest, fields)
        merged.update({i.item_id: i for i in items})
        payload = {"key": fields, "metric": metric,
                   "items": [[i.item_id, i.score, i.chance] + ([i.margin] if i.margin is not None else [])
                             for i in merged.values()]}
        write_atomic(self._path(digest), json.dumps(payload))


class Scorer:
    """One model's outcomes, each item scored at most once (in memory and in the cache).

    ``model`` may be a callable that loads it, so a scorer whose items are all
    known (from ``known`` or the cache) never loads a model at all. ``known``
    seeds the memory with results read from a run folder; ``on_scored`` is told
    of every result that gained items, scored or read from the cache (the loop saves them at once);
    ``progress``, when set, is called with the number of items each evaluation scored.
    """

    def __init__(
        self,
        model: LoadedModel | Callable[[], LoadedModel],
        *,
        batch_size: int,
        cache: ResultCache | None | bool = True,
        known: dict[str, BenchmarkResult] | None = None,
        on_scored: Callable[[str, BenchmarkResult], None] | None = None,
    ) -> None:
        self._model = model
        self.batch_size = batch_size
        self.cache = ResultCache() if cache is True else (cache or None)
        self.on_scored = on_scored
        self.progress: Callable[[int], Any] | None = None
        self.seconds: dict[str, float] = {}
        self._memory: dict[str, dict[str, ItemScore]] = {}
        self._metrics: dict[str, str] = {}
        self._weights: str | None = None
        for name, result in (known or {}).items():
            self._memory[name] = {i.item_id: i for i in result.items}
            self._metrics[name] = result.metric
            self.seconds[name] = result.seconds

    @property
    def model(self) -> LoadedModel:
        if not isinstance(self._model, LoadedModel):
            self._model = self._model()
        return self._model

    @property
    def weights(self) -> str:
        """The digest of the weights as they are when scoring starts (hashed once per scorer)."""
        if self._weights is None:
            model = self.model
            self._weights = weights_fingerprint(model.model)
            if model.fingerprint and model.fingerprint != self._weights:
                log.info("%s: weights changed since loading; using the current digest", model.name)
            model.fingerprint = self._weights
        return self._weights

    def known(self, name: str) -> dict[str, ItemScore]:
        return self._memory.get(name, {})

    def score(self, benchmark: Benchmark, ids: Sequence[str]) -> BenchmarkResult:
        """``benchmark``'s outcomes on ``ids``, in that order; only unknown items are scored."""
        memory = self._memory.setdefault(benchmark.name, {})
        missing = [i for i in ids if i not in memory]
        learned = bool(missing)  # new to this scorer, whether from the cache or scored now
        cached = False
        extra: dict = {}
        if missing and self.cache is not None:
            digest, fields = self._cache_key(benchmark)
            found = self.cache.get(digest, fields)
            hits = {i: found[i] for i in missing if i in found}
            if hits:
                log.info("%s: %d items cached for these weights (%s)", benchmark.name, len(hits), digest[:12])
                memory.update(hits)
                missing = [i for i in missing if i not in hits]
                cached = not missing
        if missing:
            self.weights  # noqa: B018  hashed before scoring: the digest of the weights that scored
            start = time.perf_counter()
            result = benchmark.evaluate(self.model, items=missing, batch_size=self.batch_size)
            self.seconds[benchmark.name] = self.seconds.get(benchmark.name, 0.0) + time.perf_counter() - start
            if self.progress is not None:
                self.progress(len(missing))
            got = {i.item_id: i for i in result.items}
            if set(got) != set(missing):
                raise UsageError(f"benchmark {benchmark.name!r} was asked for {len(missing)} items and returned "
                                 f"{len(got)} ({len(set(missing) - set(got))} missing, "
                                 f"{len(set(got) - set(missing))} not asked for)")
            if benchmark.chance is not None:
                got = {i: s if s.chance is not None else ItemScore(i, s.score, benchmark.chance) for i, s in got.items()}
            memory.update(got)
            self._metrics[benchmark.name] = result.metric
            if len(missing) == len(ids):  # aggregates a plugin reports (perplexity...) hold for exactly these items
                extra = dict(result.extra)
            if self.cache is not None:
                digest, fields = self._cache_key(benchmark)
                self.cache.put(digest, fields, result.metric, got.values())
        elif benchmark.name not in self._metrics and self.cache is not None:
            self._metrics[benchmark.name] = self._cached_metric(benchmark)
        out = BenchmarkResult(
            benchmark=benchmark.name,
            metric=self._metrics.get(benchmark.name, "acc"),
            items=[memory[i] for i in ids],
            seconds=self.seconds.get(benchmark.name, 0.0),
            extra={**extra, "cached": True} if cached else extra,
        )
        orders = benchmark.__dict__.get("_item_orders")
        if orders:
            out.extra["available"] = len(next(iter(orders.values())))
        if self._weights is not None:
            out.extra["weights"] = self._weights
        if learned and self.on_scored is not None:
            # Cache hits too: a run folder must hold every result its verdict used, even when
            # another run scored them first.
            self.on_scored(benchmark.name, self.result_so_far(benchmark.name))
        return out

    def result_so_far(self, name: str) -> BenchmarkResult:
        """Every item of ``name`` this scorer knows, as one result (what the loop saves)."""
        memory = self._memory.get(name, {})
        return BenchmarkResult(name, self._metrics.get(name, "acc"), list(memory.values()),
                               seconds=self.seconds.get(name, 0.0))

    def _cache_key(self, benchmark: Benchmark) -> tuple[str, dict]:
        settings = ScoringSettings(self.model.dtype, self.model.device)
        return ResultCache.key(self.weights, benchmark, settings)

    def _cached_metric(self, benchmark: Benchmark) -> str:
        digest, _ = self._cache_key(benchmark)
        path = self.cache._path(digest)  # type: ignore[union-attr]
        try:
            return json.loads(path.read_text(encoding="utf-8")).get("metric", "acc")
        except (OSError, json.JSONDecodeError):
            return "acc"


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
    """Score ``model`` on the first ``limit`` items of each benchmark, reusing cached outcomes.

    ``limits`` overrides ``limit`` per benchmark name. ``cache=False`` disables
    caching; ``True`` uses the default folder under :func:`harness.models.loading.cache_root`.
    """
    scorer = Scorer(model, batch_size=batch_size, cache=cache)
    results: dict[str, BenchmarkResult] = {}
    for benchmark in benchmarks:
        n = (limits or {}).get(benchmark.name, limit)
        results[benchmark.name] = scorer.score(benchmark, take_items(benchmark, n, seed))
    return results


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


def options_taken(component: type, shared: dict[str, Any]) -> dict[str, Any]:
    """The entries of ``shared`` that ``component``'s Options declare (the rest are for other components)."""
    return {key: value for key, value in shared.items() if key in component.Options.model_fields}


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
