"""``harness train CONFIG [--resume]``: one training run with the config's trainer (no loop)."""

from __future__ import annotations

import argparse

from harness.errors import UsageError
from harness.records import TrainRequest
from harness.commands import add_set_flag
from harness.resolve import resolve_file
from harness.plugins import load_harness


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("train", help="train once with the config's trainer (no evaluation loop)")
    parser.add_argument("config", help="path to a YAML run config")
    parser.add_argument("--resume", action="store_true", help="continue from the last complete checkpoint")
    parser.add_argument("--output-dir", help="where to write (default: the config's output_dir)")
    add_set_flag(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from harness import distributed

    # Under a launcher every rank runs this command; rank 0 alone prints and writes.
    with distributed.session():
        return _train(args, say=print if distributed.is_main() else lambda _line: None)


def _train(args: argparse.Namespace, say) -> int:
    from harness.training import describe_plan

    harness = load_harness(disable=args.disable)
    # The run's plugins built and checked (the trainer's environment too) before any model or data loads.
    resolved = resolve_file(args.config, harness, args.overrides)
    config, trainer = resolved.config, resolved.components.trainer
    from harness.hardware import gpu_only_problems

    if problems := gpu_only_problems(config):
        raise UsageError("this machine cannot run the config: " + "; ".join(problems))
    from harness.memory.startup import check_memory_at_start

    check_memory_at_start(config, say=say)  # prints the plan; stops here if it cannot fit
    from harness.resolve.run_data import prepare_data

    # The same sources, validation, length checks and split as `harness run`.
    data = prepare_data(config, harness)
    train, validation = data.train, data.validation
    general = [e for source in data.general for e in source.examples]
    output_dir = config.resolve_path(args.output_dir or config.output_dir)
    say(f"trainer {trainer.name}: {describe_plan(config, len(train))}, {len(validation)} validation examples")
    record = trainer.train(TrainRequest(config=config, train=train, validation=validation,
                                        output_dir=output_dir, general=general, resume=args.resume))
    val = f"{record.val_loss:.4f}" if record.val_loss is not None else "n/a"
    train_loss = f"{record.train_loss:.4f}" if record.train_loss is not None else "n/a"
    say(f"done: {record.steps} steps, train loss {train_loss}, validation loss {val}, "
          f"{record.tokens} tokens in {record.seconds:.0f}s")
    say(f"weights: {record.weights_dir}")
    say(f"metrics: {record.metrics_file}")
    return 0
