"""Writing a transformers model folder as one GGUF file, for llama.cpp, Ollama and LM Studio.

The seed's last step is quantising the merged model for deployment. GGUF is what
those runtimes load, and the ``gguf`` package (llama.cpp's own Python library)
writes it; what it does not do is read a transformers folder. This module does
that for the families harness is built around whose layout GGUF names directly:
Llama (Llama 3.x, SmolLM2, and Mistral, which llama.cpp runs as Llama) and Qwen2,
with a byte-level BPE tokenizer. Anything else is refused, naming llama.cpp's
``convert_hf_to_gguf.py``, which covers every architecture llama.cpp runs.

Three facts of the format shape the code:

- GGUF's Llama rotary embedding pairs neighbouring dimensions of each head while
  transformers pairs the two halves, so the query and key projections are
  stored with each head's rows interleaved (``interleave_rotary_rows``); loaders
  (llama.cpp, transformers' GGUF reader) undo it.
- Llama 3.1's long-context rotary scaling is stored as a ``rope_freqs`` tensor:
  the divisor of each rotary frequency.
- Only 2-D weights are quantised; norms and biases stay float32, as llama.cpp
  keeps them.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from harness.errors import UsageError

# GGUF architecture for each transformers architecture we write; "permute" marks the
# families whose rotary layout differs from GGUF's (see the module docstring).
ARCHITECTURES = {
    "LlamaForCausalLM": ("llama", True),
    "MistralForCausalLM": ("llama", True),
    "Qwen2ForCausalLM": ("qwen2", False),
}

# What llama.cpp calls each family's pre-tokenizer (its regex for splitting text before BPE).
# It recognises tokenizers by these names; an unknown one falls back to its default split.
PRE_TOKENIZERS = {
    ("llama", 128256): "llama-bpe",  # Llama 3.x
    ("llama", 49152): "smollm",  # SmolLM / SmolLM2
    ("qwen2", None): "qwen2",
}

OUTTYPES = ("f16", "bf16", "f32", "q8_0")
CONVERTER_HINT = ("llama.cpp's convert_hf_to_gguf.py converts every architecture llama.cpp runs "
                  "(pip install gguf; the script is in the llama.cpp repository)")


@dataclass(frozen=True)
class GgufExport:
    """What was written: the file, its size and what it holds."""

    path: Path
    architecture: str
    outtype: str
    tensors: int
    parameters: int
    bytes: int


def interleave_rotary_rows(weight: Any, heads: int) -> Any:
    """Reorder each head's rows of a query/key projection from halves-paired to neighbour-paired.

    Within a head of ``d`` rows, transformers rotates row ``i`` with row ``i + d/2``;
    GGUF's Llama rotates row ``2i`` with ``2i + 1``. So row ``i`` of the first half
    goes to ``2i`` and row ``i`` of the second half to ``2i + 1``.
    """
    rows = weight.shape[0]
    head_dim = rows // heads
    halves = weight.reshape(heads, 2, head_dim // 2, *weight.shape[1:])
    return halves.swapaxes(1, 2).reshape(weight.shape)


def llama3_rope_divisors(config: Any) -> Any:
    """Per rotary frequency, what Llama 3's rope scaling divides it by (GGUF's ``rope_freqs``).

    High frequencies (wavelength under ``original / high_freq_factor``) are kept,
    low ones (over ``original / low_freq_factor``) divided by ``factor``, and those
    between blended smoothly: the scaling transformers applies in
    ``rope_type: llama3``, written as divisors so llama.cpp applies the same.
    """
    import numpy as np

    scaling = config.rope_scaling
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
    theta = _rope_theta(config)
    frequencies = 1.0 / theta ** (np.arange(0, head_dim, 2, dtype=np.float64) / head_dim)
    wavelengths = 2 * math.pi / frequencies
    factor, low, high = scaling["factor"], scaling["low_freq_factor"], scaling["high_freq_factor"]
    original = scaling["original_max_position_embeddings"]
    smooth = (original / wavelengths - low) / (high - low)
    divisors = 1.0 / ((1 - smooth) / factor + smooth)
    divisors = np.where(wavelengths < original / high, 1.0, divisors)
    divisors = np.where(wavelengths > original / low, factor, divisors)
    return divisors.astype(np.float32)


def _rope_theta(config: Any) -> float:
    theta = getattr(config, "rope_theta", None)
    if theta is None:  # transformers 5 keeps it under rope_parameters
        theta = (getattr(config, "rope_parameters", None) or {}).get("rope_theta", 10000.0)
    return float(theta)


def _rope_scaling(config: Any) -> dict[str, Any] | None:
    scaling = getattr(config, "rope_scaling", None) or getattr(config, "rope_parameters", None)
    if not scaling or scaling.get("rope_type", scaling.get("type", "default")) == "default":
        return None
    return scaling


def check_exportable(config: Any, folder: Path) -> tuple[str, bool]:
    """(GGUF architecture, whether q/k rows are interleaved), or a UsageError saying why not."""
    architecture = (getattr(config, "architectures", None) or ["?"])[0]
    if architecture not in ARCHITECTURES:
        raise UsageError(f"GGUF export supports {', '.join(ARCHITECTURES)}; this model is {architecture}. "
                         f"{CONVERTER_HINT}")
    scaling = _rope_scaling(config)
    if scaling and scaling.get("rope_type", scaling.get("type")) != "llama3":
        raise UsageError(f"GGUF export: rope scaling {scaling.get('rope_type', scaling.get('type'))!r} is not "
                         f"written by harness (llama3 is). {CONVERTER_HINT}")
    tokenizer_file = folder / "tokenizer.json"
    if not tokenizer_file.is_file():
        raise UsageError(f"GGUF export needs the fast tokenizer's tokenizer.json in {folder}")
    tokenizer = json.loads(tokenizer_file.read_text(encoding="utf-8"))
    model, decoder = tokenizer.get("model") or {}, tokenizer.get("decoder") or {}
    if model.get("type") != "BPE" or model.get("byte_fallback") or decoder.get("type") != "ByteLevel":
        raise UsageError("GGUF export writes byte-level BPE tokenizers (Llama 3, Qwen2, SmolLM2); this one is "
                         f"{model.get('type')} with a {decoder.get('type')} decoder (SentencePiece-style). "
                         f"{CONVERTER_HINT}")
    return ARCHITECTURES[architecture]


def _tokens(tokenizer: Any, vocab_rows: int) -> tuple[list[str], list[int]]:
    """Every embedding row's token text and GGUF token type (rows past the tokenizer are padding)."""
    from gguf import TokenType

    special = set(tokenizer.all_special_ids)
    added = tokenizer.added_tokens_decoder
    texts, types = [], []
    for i in range(vocab_rows):
        text = tokenizer.convert_ids_to_tokens(i) if i < len(tokenizer) else None
        if text is None:
            texts.append(f"[PAD{i}]")
            types.append(TokenType.UNUSED)
        elif i in special or (i in added and added[i].special):
            texts.append(text)
            types.append(TokenType.CONTROL)
        elif i in added:
            # An added plain token is matched as written, not through the byte-level alphabet.
            texts.append(added[i].content)
            types.append(TokenType.USER_DEFINED)
        else:
            texts.append(text)
            types.append(TokenType.NORMAL)
    return texts, types


def _write_metadata(writer: Any, config: Any, arch: str, name: str, outtype: str) -> None:
    from gguf import LlamaFileType

    head_dim = getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
    writer.add_type("model")
    writer.add_name(name)
    writer.add_file_type({"f32": LlamaFileType.ALL_F32, "f16": LlamaFileType.MOSTLY_F16,
                          "bf16": LlamaFileType.MOSTLY_BF16, "q8_0": LlamaFileType.MOSTLY_Q8_0}[outtype])
    writer.add_context_length(config.max_position_embeddings)
    writer.add_embedding_length(config.hidden_size)
    writer.add_block_count(config.num_hidden_layers)
    writer.add_feed_forward_length(config.intermediate_size)
    writer.add_head_count(config.num_attention_heads)
    writer.add_head_count_kv(config.num_key_value_heads or config.num_attention_heads)
    writer.add_rope_dimension_count(head_dim)
    writer.add_rope_freq_base(_rope_theta(config))
    writer.add_layer_norm_rms_eps(config.rms_norm_eps)
    writer.add_vocab_size(config.vocab_size)
    writer.add_quantization_version(2)


def _write_tokenizer(writer: Any, folder: Path, config: Any, arch: str) -> None:
    from gguf import SpecialVocab
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(folder)
    texts, types = _tokens(tokenizer, config.vocab_size)
    writer.add_tokenizer_model("gpt2")
    pre = PRE_TOKENIZERS.get((arch, config.vocab_size)) or PRE_TOKENIZERS.get((arch, None)) or "default"
    writer.add_tokenizer_pre(pre)
    writer.add_token_list(texts)
    writer.add_token_types(types)
    # Merges, the special token ids, whether BOS is added, and the chat template.
    SpecialVocab(folder, load_merges=True, n_vocab=config.vocab_size).add_to_gguf(writer, quiet=True)


def _tensors(model: Any, arch_enum: Any, interleave: bool, config: Any) -> Iterator[tuple[str, Any]]:
    """(GGUF name, float32 numpy array) for every weight, in the model's order."""
    from gguf import get_tensor_name_map

    names = get_tensor_name_map(arch_enum, config.num_hidden_layers)
    heads = config.num_attention_heads
    kv_heads = config.num_key_value_heads or heads
    tied = getattr(config, "tie_word_embeddings", False)
    for hf_name, tensor in model.state_dict().items():
        if tied and hf_name == "lm_head.weight":
            continue  # GGUF marks tied embeddings by having no output.weight
        gguf_name = names.get_name(hf_name, try_suffixes=(".weight", ".bias"))
        if gguf_name is None:
            if hf_name.endswith("rotary_emb.inv_freq"):
                continue  # recomputed by every loader
            raise UsageError(f"GGUF export: no GGUF name for tensor {hf_name}. {CONVERTER_HINT}")
        array = tensor.detach().float().cpu().numpy()
        if interleave and gguf_name.endswith(("attn_q.weight", "attn_q.bias")):
            array = interleave_rotary_rows(array, heads)
        elif interleave and gguf_name.endswith(("attn_k.weight", "attn_k.bias")):
            array = interleave_rotary_rows(array, kv_heads)
        yield gguf_name, array


def _encode(array: Any, outtype: str) -> tuple[Any, Any]:
    """The array in the file's type, and that type: 1-D tensors (norms, biases) stay float32."""
    import numpy as np
    from gguf import GGMLQuantizationType, quants

    if array.ndim < 2 or outtype == "f32":
        return array.astype(np.float32), GGMLQuantizationType.F32
    if outtype == "f16":
        return array.astype(np.float16), GGMLQuantizationType.F16
    kind = GGMLQuantizationType.BF16 if outtype == "bf16" else GGMLQuantizationType.Q8_0
    if kind == GGMLQuantizationType.Q8_0 and array.shape[-1] % 32:
        return array.astype(np.float16), GGMLQuantizationType.F16  # Q8_0 works on blocks of 32 along a row
    return quants.quantize(array, kind), kind


def export_gguf(folder: Path, output: Path, outtype: str = "f16", name: str | None = None) -> GgufExport:
    """Write the transformers model in ``folder`` (weights and tokenizer) to ``output`` as GGUF.

    Written beside the target and renamed into place, so an interrupted export
    never leaves a truncated file under the final name.
    """
    from gguf import MODEL_ARCH_NAMES, GGMLQuantizationType, GGUFWriter
    from transformers import AutoConfig, AutoModelForCausalLM

    if outtype not in OUTTYPES:
        raise UsageError(f"GGUF type {outtype!r}: choose one of {', '.join(OUTTYPES)}")
    folder, output = Path(folder), Path(output)
    config = AutoConfig.from_pretrained(folder)
    arch, interleave = check_exportable(config, folder)
    arch_enum = next(key for key, value in MODEL_ARCH_NAMES.items() if value == arch)
    # Loaded in its own dtype (an 8B bf16 model is 16 GB, not 32): each tensor is widened
    # to float32 only while it is encoded, and encoded tensors spool to disk, not memory.
    model = AutoModelForCausalLM.from_pretrained(folder, dtype="auto")
    output.parent.mkdir(parents=True, exist_ok=True)
    staged = output.with_name(f".{output.name}.partial")
    writer = GGUFWriter(staged, arch, use_temp_file=True)
    _write_metadata(writer, config, arch, name or folder.name, outtype)
    _write_tokenizer(writer, folder, config, arch)
    count = parameters = 0
    for gguf_name, array in _tensors(model, arch_enum, interleave, config):
        data, kind = _encode(array, outtype)
        writer.add_tensor(gguf_name, data, raw_dtype=kind)
        count, parameters = count + 1, parameters + array.size
    if arch == "llama" and _rope_scaling(config):
        writer.add_tensor("rope_freqs.weight", llama3_rope_divisors(config), raw_dtype=GGMLQuantizationType.F32)
        count += 1
    del model
    try:
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file(progress=True)
        writer.close()
        staged.replace(output)
    finally:
        staged.unlink(missing_ok=True)
    return GgufExport(output, arch, outtype, count, parameters, output.stat().st_size)

