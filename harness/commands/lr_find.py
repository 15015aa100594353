"""``harness lr-find CONFIG``: the seed's LR range test; writes an SVG plot and prints the suggested LR."""

from __future__ import annotations

import argparse
from pathlib import Path

from harness.commands import add_set_flag


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("lr-find", help="LR range test: plot loss vs LR, suggest a learning rate")
    parser.add_argument("config", help="path to a YAML run config")
    parser.add_argument("--start-lr", type=float, default=1e-7)
    parser.add_argument("--end-lr", type=float, default=1e-1)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--plot", default="lr_finder.svg", help="where to write the plot (SVG)")
    add_set_flag(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from harness.resolve import resolve_file
    from harness.resolve.run_data import prepare_data
    from harness.plugins import load_harness
    from harness.training import (LengthGroupedSampler, PaddingCollator, attach_lora, load_for_training,
                                  precision, tokenize_examples)
    from harness.training.lr_range import lr_range_test, write_svg

    harness = load_harness(disable=args.disable)
    resolved = resolve_file(args.config, harness, args.overrides)
    config = resolved.config
    train = prepare_data(config, harness).train  # the same data, checks and split as `harness run`
    adapter = resolved.components.trainer.trains_adapter()
    model, tokenizer = load_for_training(config, frozen=adapter)
    if adapter:
        model = attach_lora(model, config)
    dataset = tokenize_examples(train, tokenizer, max_length=config.sequence_len, train_on=config.train_on)
    order = list(LengthGroupedSampler(dataset.lengths, config.micro_batch_size, seed=config.seed))
    collate = PaddingCollator(tokenizer.pad_token_id)
    size = config.micro_batch_size
    batches = [collate([dataset[i] for i in order[s:s + size]]) for s in range(0, len(order), size)]
    bf16, _ = precision(config, str(next(model.parameters()).device))
    result = lr_range_test(model, batches, start_lr=args.start_lr, end_lr=args.end_lr, steps=args.steps,
                           autocast_bf16=bf16)
    plot = write_svg(result, Path(args.plot), title=f"LR range test: {config.base_model}")
    print(f"plot: {plot}")
    print(f"Suggested learning rate: {result.suggested_lr:.2e}")
    return 0
