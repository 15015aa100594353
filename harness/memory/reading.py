"""Where a base model's shape comes from, without loading any weights.

``config.json`` is read as JSON rather than through transformers' ``AutoConfig``:
importing ``AutoConfig`` imports torch (seconds), and ``harness validate`` stays
light. Only a ``.gguf`` not yet converted needs transformers, which reads the
shape from the file's header (no tensors).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from harness.errors import UsageError
from harness.memory.shape import ModelShape, published_shape


@dataclass(frozen=True)
class ShapeReading:
    """A model's shape and where it was read, or why it could not be."""

    shape: ModelShape | None
    source: str  # where the shape came from, or why there is none

    @property
    def published(self) -> bool:
        return self.source.startswith("published")


def read_shape(spec: str, base_dir: Path | None = None) -> ShapeReading:
    """The shape of the model ``spec`` names (an alias, folder, .gguf or Hub id)."""
    from harness.models.loading import resolve_model

    try:
        source = resolve_model(spec, base_dir)
    except UsageError as error:
        return ShapeReading(None, str(error))
    if source.kind == "folder":
        return _from_file(Path(source.location) / "config.json", "its config.json")
    if source.kind == "gguf":
        return _from_gguf(Path(source.location))
    cached = _hub_cache_file(source.location)
    if cached is not None:
        return _from_file(cached, "its config.json in the local Hugging Face cache")
    published = published_shape(source.location)
    if published is not None:
        label, config = published
        return ShapeReading(ModelShape.from_config(config),
                            f"published config of {label} (the Hub copy is not readable here)")
    return ShapeReading(None, f"{spec} is on the Hub, not in the local cache, and not among the well-known "
                              f"shapes this plan knows offline")


def _from_file(path: Path, where: str) -> ShapeReading:
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        return ShapeReading(None, f"{path} could not be read ({error.__class__.__name__})")
    try:
        return ShapeReading(ModelShape.from_config(config), where)
    except (ValueError, TypeError) as error:
        return ShapeReading(None, f"{where}: {error}")


def _from_gguf(path: Path) -> ShapeReading:
    from harness.models.loading import conversion_target

    converted = conversion_target(path) / "config.json"
    if converted.is_file():
        return _from_file(converted, f"the config.json of {path.name}'s converted folder")
    try:
        from transformers import AutoConfig

        config = AutoConfig.from_pretrained(path.parent, gguf_file=path.name)
        return ShapeReading(ModelShape.from_config(config.to_dict()), f"{path.name}'s header")
    except Exception as error:  # noqa: BLE001 - any unreadable header means only "no plan"
        return ShapeReading(None, f"{path.name}'s header could not be read: {str(error).splitlines()[0]}")


def _hub_cache_file(model_id: str) -> Path | None:
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return None
    try:
        found = try_to_load_from_cache(model_id, "config.json")
    except Exception:  # noqa: BLE001 - a malformed id is just "not cached"
        return None
    return Path(found) if isinstance(found, str) else None
