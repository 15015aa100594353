"""``harness merge --base M --adapter A --output DIR``: fold a LoRA adapter into its base (the seed's step 6)."""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

from harness.errors import UsageError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("merge", help="merge a LoRA adapter into its base model folder")
    parser.add_argument("--base", required=True, help="base model (alias, folder, .gguf or hub id)")
    parser.add_argument("--adapter", required=True, help="PEFT adapter folder (a run's adapter/)")
    parser.add_argument("--output", required=True, help="folder to write the merged model to")
    parser.add_argument("--dtype", choices=["auto", "bfloat16", "float16", "float32"], default="auto",
                        help="weights written in this dtype (auto: the base's own, e.g. bf16 for Llama 3; "
                             "float32 when the base does not say); the merge itself is computed in float32")
    parser.set_defaults(handler=run)


def saved_dtype(config: object) -> str:
    """The dtype a model's config says its weights are kept in (float32 when it does not say)."""
    text = config.get_text_config() if hasattr(config, "get_text_config") else config
    dtype = getattr(text, "dtype", None) or getattr(text, "torch_dtype", None)
    name = str(dtype).removeprefix("torch.") if dtype is not None else "float32"
    return name if name in ("bfloat16", "float16", "float32") else "float32"


def merge(base: str, adapter: Path, output: Path, dtype: str = "auto") -> Path:
    """Write base + adapter as one standard model folder, atomically: merged in float32, written in
    ``dtype`` (auto: the base's own, so an 8B bf16 base gives a ~16 GB folder, not ~32 GB)."""
    import torch
    from peft import PeftModel

    from harness.models.loading import load_model

    if not (adapter / "adapter_config.json").is_file():
        raise UsageError(f"{adapter}: not a PEFT adapter folder (no adapter_config.json)")
    loaded = load_model(base, device="cpu", dtype="float32", fingerprint=False)
    if dtype == "auto":
        from transformers import AutoConfig

        from harness.models.loading import local_folder, resolve_model

        # The base's own config (loading in float32 above rewrote the loaded copy's dtype).
        dtype = saved_dtype(AutoConfig.from_pretrained(local_folder(resolve_model(base))))
    target = dtype
    merged = PeftModel.from_pretrained(loaded.model, str(adapter)).merge_and_unload().to(getattr(torch, target))
    merged.config.dtype = target
    output.parent.mkdir(parents=True, exist_ok=True)
    staged = Path(tempfile.mkdtemp(dir=output.parent, prefix=f".{output.name}-"))
    try:
        merged.save_pretrained(staged, safe_serialization=True)
        loaded.tokenizer.save_pretrained(staged)
        if output.exists():
            shutil.rmtree(output)
        staged.rename(output)
    finally:
        shutil.rmtree(staged, ignore_errors=True)
    return output


def run(args: argparse.Namespace) -> int:
    out = merge(args.base, Path(args.adapter), Path(args.output), args.dtype)
    print(f"merged model written to {out}")
    return 0
