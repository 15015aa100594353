"""``harness export-gguf SOURCE --output FILE``: a model, or a run's chosen weights, as one GGUF file.

SOURCE is a finished run folder (its chosen round's weights; a LoRA adapter is merged
into the run's base first), a model folder, or anything ``--base`` takes elsewhere (an
alias, a hub id). ``--adapter`` merges a PEFT adapter into SOURCE first.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from harness.errors import UsageError
from harness.models.gguf_export import OUTTYPES


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("export-gguf", help="write a model or a run's chosen weights as a GGUF file "
                                                       "(llama.cpp, Ollama, LM Studio)")
    parser.add_argument("source", help="a finished run folder, a model folder, an alias or a hub id")
    parser.add_argument("--output", required=True, type=Path, help="the .gguf file to write")
    parser.add_argument("--adapter", type=Path, help="a PEFT adapter folder to merge into SOURCE first")
    parser.add_argument("--type", dest="outtype", choices=OUTTYPES, default="f16",
                        help="weight type: f16 (default, what llama.cpp quantises from), bf16, f32, or q8_0 "
                             "(8-bit, about half of f16); norms stay float32")
    parser.set_defaults(handler=run)


def weights_to_export(source: str, adapter: Path | None) -> tuple[str, Path | None]:
    """(model, adapter) for SOURCE: a run folder answers with its base and chosen weights."""
    folder = Path(source)
    if not (folder / "verdict.json").is_file():
        return source, adapter
    from harness.evaluation.gate import read_verdict
    from harness.model_card import chosen_weights, is_adapter

    verdict = read_verdict(folder)
    weights = chosen_weights(folder, verdict)
    if weights is None:
        raise UsageError(f"{folder}: the chosen round's weights are not on disk; nothing to export")
    if adapter is not None:
        raise UsageError("--adapter with a run folder: the run's own chosen weights are exported; drop --adapter")
    if is_adapter(weights):
        return verdict.base_model, weights
    return str(weights), None


def run(args: argparse.Namespace) -> int:
    from harness.commands.merge import merge
    from harness.models.gguf_export import export_gguf
    from harness.models.loading import local_folder, resolve_model

    if args.output.suffix != ".gguf":
        raise UsageError(f"--output {args.output}: name the file *.gguf")
    model, adapter = weights_to_export(args.source, args.adapter)
    with tempfile.TemporaryDirectory(dir=args.output.parent if args.output.parent.exists() else None,
                                     prefix=".merge-") as scratch:
        if adapter is not None:
            folder = merge(model, adapter, Path(scratch) / "merged")
            print(f"merged {adapter} into {model}")
        else:
            folder = local_folder(resolve_model(model))
        written = export_gguf(folder, args.output, args.outtype, name=Path(args.source).name)
    print(f"wrote {written.path}: {written.architecture}, {written.tensors} tensors, "
          f"{written.parameters / 1e6:,.1f}M parameters, {written.outtype}, {written.bytes / 1e6:,.1f} MB")
    return 0
