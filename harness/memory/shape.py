"""A decoder model's shape: its weight matrices, counted from ``config.json`` without loading weights.

The shape is read from the model's own ``config.json`` (a local folder, the folder a
``.gguf`` was converted into, or a Hub id already in the local cache). Where none of
those can be read (a Hub id offline), a small table of well-known models' published
shapes stands in (``known_shapes.json``), and the plan says so.

Counting assumes the Llama layout most decoders share: separate q/k/v/o projections,
a gated MLP (gate, up, down) and RMSNorms; ``known_shapes.json`` lists the families
that depart from it and how (biases, extra norms).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

# The keys every supported config.json has (transformers' standard names).
REQUIRED = ("hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads", "vocab_size")


@dataclass(frozen=True)
class Linear:
    """One kind of linear layer in every decoder layer: its name (as LoRA targets it) and size."""

    name: str
    inputs: int
    outputs: int
    bias: bool = False

    @property
    def parameters(self) -> int:
        return self.inputs * self.outputs + (self.outputs if self.bias else 0)


@dataclass(frozen=True)
class ModelShape:
    """What the memory plan needs to know about a model; counts are exact for the Llama layout."""

    family: str
    hidden: int
    intermediate: int
    layers: int
    heads: int
    kv_heads: int
    head_dim: int
    vocab: int
    tied_embeddings: bool
    norms_per_layer: int = 2
    qk_norm: bool = False
    qkv_bias: bool = False

    def linears(self) -> tuple[Linear, ...]:
        """The linear layers of one decoder layer."""
        q, kv = self.heads * self.head_dim, self.kv_heads * self.head_dim
        return (Linear("q_proj", self.hidden, q, self.qkv_bias), Linear("k_proj", self.hidden, kv, self.qkv_bias),
                Linear("v_proj", self.hidden, kv, self.qkv_bias), Linear("o_proj", q, self.hidden),
                Linear("gate_proj", self.hidden, self.intermediate), Linear("up_proj", self.hidden, self.intermediate),
                Linear("down_proj", self.intermediate, self.hidden))

    @property
    def layer_norm_parameters(self) -> int:
        return self.norms_per_layer * self.hidden + (2 * self.head_dim if self.qk_norm else 0)

    @property
    def layer_parameters(self) -> int:
        return sum(linear.parameters for linear in self.linears()) + self.layer_norm_parameters

    @property
    def embedding_parameters(self) -> int:
        """The input embedding, and the output head unless it shares the embedding's weights."""
        return self.vocab * self.hidden * (1 if self.tied_embeddings else 2)

    @property
    def parameters(self) -> int:
        return self.layers * self.layer_parameters + self.embedding_parameters + self.hidden  # + the final norm

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> ModelShape:
        """From a ``config.json`` mapping (a multimodal config's ``text_config`` is the decoder)."""
        config = config.get("text_config") or config
        missing = [key for key in REQUIRED if not config.get(key)]
        if missing:
            raise ValueError(f"its config.json has no {', '.join(missing)} (not a decoder this plan knows)")
        family = str(config.get("model_type") or "unknown")
        quirks = families().get(family, {})
        heads = int(config["num_attention_heads"])
        return cls(
            family=family, hidden=int(config["hidden_size"]), intermediate=int(config["intermediate_size"]),
            layers=int(config["num_hidden_layers"]), heads=heads,
            kv_heads=int(config.get("num_key_value_heads") or heads),
            head_dim=int(config.get("head_dim") or config["hidden_size"] // heads), vocab=int(config["vocab_size"]),
            # transformers' default for a decoder that does not say: tied
            tied_embeddings=bool(config.get("tie_word_embeddings", True)),
            norms_per_layer=int(quirks.get("norms_per_layer", 2)), qk_norm=bool(quirks.get("qk_norm", False)),
            qkv_bias=bool(quirks.get("qkv_bias", config.get("attention_bias", False))),
        )


@lru_cache(maxsize=1)
def _table() -> dict[str, Any]:
    return json.loads((Path(__file__).with_name("known_shapes.json")).read_text(encoding="utf-8"))


def families() -> dict[str, dict[str, Any]]:
    """Decoder families the counting knows, with how each departs from Llama's layout."""
    return {name: quirks for name, quirks in _table()["families"].items() if not name.startswith("_")}


def published_shape(model_id: str) -> tuple[str, dict[str, Any]] | None:
    """(the model's name in the table, its published config) for a well-known Hub id, else None."""
    wanted = model_id.lower()
    for label, entry in _table()["shapes"].items():
        if wanted in (name.lower() for name in entry["names"]):
            return label, entry["config"]
    return None


def known_names() -> list[str]:
    return [name for entry in _table()["shapes"].values() for name in entry["names"]]
