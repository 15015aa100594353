"""``harness merge --base M --adapter A --output DIR``: fold a LoRA adapter into its base (the seed's step 6)."""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

from harness.api import UsageError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("merge", help="merge a LoRA adapter into its base model folder")
    parser.add_argument("--base", required=True, help="base model (alias, folder, .gguf or hub id)")
    parser.add_argument("--adapter", required=True, help="PEFT adapter folder (a run's adapter/)")
    parser.add_argument("--output", required=True, help="folder to write the merged model to")
    parser.set_defaults(handler=run)


def merge(base: str, adapter: Path, output: Path) -> Path:
    """Write base + adapter as one standard model folder (fp32), atomically."""
    from peft import PeftModel

    from harness.models.loading import load_model

    if not (adapter / "adapter_config.json").is_file():
        raise UsageError(f"{adapter}: not a PEFT adapter folder (no adapter_config.json)")
    loaded = load_model(base, device="cpu", dtype="float32", fingerprint=False)
    merged = PeftModel.from_pretrained(loaded.model, str(adapter)).merge_and_unload()
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
    out = merge(args.base, Path(args.adapter), Path(args.output))
    print(f"merged model written to {out}")
    return 0
