"""``harness data format|split|inspect``: the seed's data tools, with validation that names lines."""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path

from harness.errors import FormatError
from harness.data.examples import (
    DataValidationError,
    LoadedData,
    Problem,
    default_rejects_path,
    parse_records,
    read_records,
    split_items,
)
from harness.plugins import load_harness

DEFAULT_MODEL = "smollm2-135m-instruct"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("data", help="convert, split and inspect training data files")
    commands = parser.add_subparsers(dest="data_command", metavar="ACTION", required=True)

    fmt = commands.add_parser("format", help="convert a data file to another format (chatml, alpaca, sharegpt, ...)")
    fmt.add_argument("--input", required=True, help="JSONL file or JSON array file")
    fmt.add_argument("--output", required=True, help="JSONL file to write")
    fmt.add_argument("--format", required=True, help="target format (a formatter name, e.g. chatml)")
    _reading_options(fmt)
    fmt.set_defaults(handler=run_format)

    split = commands.add_parser("split", help="split a data file into train and validation files")
    split.add_argument("--input", required=True)
    split.add_argument("--train-output", "--train_output", dest="train_output", required=True)
    split.add_argument("--val-output", "--val_output", dest="val_output", required=True)
    split.add_argument("--split-ratio", "--split_ratio", dest="split_ratio", type=float, default=0.9,
                       help="share of examples that go to train (default 0.9)")
    split.add_argument("--seed", type=int, default=0)
    _reading_options(split)
    split.set_defaults(handler=run_split)

    inspect = commands.add_parser("inspect", help="counts, format, token lengths and duplicates of a data file")
    inspect.add_argument("file")
    inspect.add_argument("--type", help="input format (detected when omitted)")
    inspect.add_argument("--model", default=DEFAULT_MODEL, help=f"whose tokenizer measures lengths (default {DEFAULT_MODEL})")
    inspect.add_argument("--sequence-len", type=int, default=2048, help="report examples longer than this")
    inspect.add_argument("--no-tokens", action="store_true", help="skip token lengths (no tokenizer is loaded)")
    inspect.add_argument("--json", action="store_true", help="print the summary as JSON")
    inspect.set_defaults(handler=run_inspect)


def _reading_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--type", help="input format (detected when omitted)")
    parser.add_argument("--on-error", choices=("fail", "skip"), default="fail",
                        help="fail listing every bad line (default), or skip them into a rejects file")
    parser.add_argument("--rejects", help="where skipped lines go (default: <input stem>.rejects.jsonl)")


def _write_jsonl(path: Path, lines: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")


def _finish(args: argparse.Namespace, problems: list[Problem]) -> None:
    """Fail listing every problem, or write them to the rejects file and say how many."""
    problems = sorted(problems, key=lambda p: p.line)
    if not problems:
        return
    if args.on_error == "fail":
        raise DataValidationError(args.input, problems)
    rejects = Path(args.rejects) if args.rejects else default_rejects_path(Path(args.input))
    _write_jsonl(rejects, [p.raw for p in problems])
    for problem in problems[:20]:
        print(f"  skipped {problem}")
    print(f"skipped {len(problems)} bad line(s); written to {rejects}")


def _load(args: argparse.Namespace, harness: object) -> LoadedData:
    # Skip while reading so conversion problems can join parse problems in one list.
    return parse_records(read_records(Path(args.input)), harness, source=args.input, type=args.type,
                         on_error="skip", write_rejects=False)


def run_format(args: argparse.Namespace) -> int:
    harness = load_harness(disable=args.disable)
    target = harness.formatter(args.format)()
    loaded = _load(args, harness)
    problems, lines = list(loaded.problems), []
    for example, raw in zip(loaded.examples, loaded.raw):
        try:
            lines.append(json.dumps(target.dump(example), ensure_ascii=False))
        except FormatError as error:
            line = int(example.origin.rsplit(":", 1)[1])
            problems.append(Problem(example.origin, f"cannot write as {target.name}: {error}", raw, line))
    _finish(args, problems)
    _write_jsonl(Path(args.output), lines)
    print(f"wrote {len(lines)} examples ({loaded.format} -> {target.name}) to {args.output}")
    _print_duplicates(loaded)
    return 0


def run_split(args: argparse.Namespace) -> int:
    harness = load_harness(disable=args.disable)
    loaded = _load(args, harness)
    _finish(args, list(loaded.problems))
    train, val = split_items(loaded.raw, args.split_ratio, args.seed)
    _write_jsonl(Path(args.train_output), train)
    _write_jsonl(Path(args.val_output), val)
    print(f"{len(loaded.raw)} examples ({loaded.format}) -> train {len(train)} ({args.train_output}), "
          f"validation {len(val)} ({args.val_output}); seed {args.seed}")
    _print_duplicates(loaded)
    return 0


def _print_duplicates(loaded: LoadedData, limit: int = 10) -> None:
    if not loaded.duplicates:
        return
    print(f"warning: {len(loaded.duplicates)} exact duplicate(s) (kept):")
    for origin, first in loaded.duplicates[:limit]:
        print(f"  {origin} repeats {first}")
    if len(loaded.duplicates) > limit:
        print(f"  ... and {len(loaded.duplicates) - limit} more")


def run_inspect(args: argparse.Namespace) -> int:
    harness = load_harness(disable=args.disable)
    loaded = parse_records(read_records(Path(args.file)), harness, source=args.file, type=args.type,
                           on_error="skip", write_rejects=False)
    examples = loaded.examples
    chats = [e for e in examples if e.is_chat]
    summary: dict = {
        "file": args.file,
        "format": loaded.format + ("" if args.type else " (detected)"),
        "records": loaded.records,
        "valid": len(examples),
        "invalid": len(loaded.problems),
        "duplicates": len(loaded.duplicates),
        "with_system_prompt": sum(1 for e in chats if e.messages[0].role == "system"),
        "user_turns": dict(sorted(Counter(sum(m.role == "user" for m in e.messages) for e in chats).items())),
    }
    rows: list[str] = []
    if not args.no_tokens and examples:
        from harness.data.lengths import LengthReport, histogram, measure_lengths
        from harness.models.loading import load_tokenizer, resolve_model

        tokenizer = load_tokenizer(resolve_model(args.model))
        lengths = measure_lengths(examples, tokenizer, progress=True)
        over = [(e.origin, n) for e, n in zip(examples, lengths) if n > args.sequence_len]
        report = LengthReport(args.sequence_len, "fail", lengths, over)
        summary["tokens"] = {"tokenizer": args.model, **report.summary()}
        summary["over_sequence_len"] = [f"{origin} ({n} tokens)" for origin, n in over[:20]]
        rows = histogram(lengths)
    if args.json:
        summary["problems"] = [str(p) for p in loaded.problems]
        print(json.dumps(summary, indent=2, ensure_ascii=False))
        return 1 if loaded.problems else 0
    for key in ("file", "format", "records", "valid", "invalid", "duplicates", "with_system_prompt"):
        print(f"{key:<19}: {summary[key]}")
    print(f"{'user turns':<19}: " + ", ".join(f"{k}: {v}" for k, v in summary["user_turns"].items()))
    if "tokens" in summary:
        t = summary["tokens"]
        print(f"tokens ({args.model}, chat template applied): min {t['min']}, median {t['median']}, "
              f"p95 {t['p95']}, max {t['max']}, total {t['total_tokens']}; "
              f"{t['over_sequence_len']} over sequence_len {args.sequence_len}")
        for origin in summary["over_sequence_len"]:
            print(f"  over: {origin}")
        print("token-length histogram:")
        for row in rows:
            print(f"  {row}")
    _print_duplicates(loaded)
    for problem in loaded.problems[:20]:
        print(f"invalid: {problem}")
    if len(loaded.problems) > 20:
        print(f"invalid: ... and {len(loaded.problems) - 20} more")
    return 1 if loaded.problems else 0
