"""``harness generate`` and ``harness chat``: prompt a model, with or without an adapter (the seed's step 7)."""

from __future__ import annotations

import argparse
import sys
from typing import Any


def _add_model_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, help="base model (alias, folder, .gguf or hub id)")
    parser.add_argument("--adapter", help="PEFT adapter folder to apply")
    parser.add_argument("--system", help="system prompt")
    parser.add_argument("--max-new-tokens", type=int, default=256)
    parser.add_argument("--temperature", type=float, default=0.0, help="0 = greedy")


def register(subparsers: argparse._SubParsersAction) -> None:
    gen = subparsers.add_parser("generate", help="answer one prompt")
    _add_model_args(gen)
    gen.add_argument("--prompt", required=True, help="the user message")
    gen.set_defaults(handler=run_generate)
    chat = subparsers.add_parser("chat", help="an interactive chat (empty line or Ctrl-D ends it)")
    _add_model_args(chat)
    chat.set_defaults(handler=run_chat)


def load(args: argparse.Namespace) -> tuple[Any, Any]:
    from harness.models.loading import load_model

    loaded = load_model(args.model, fingerprint=False)
    model = loaded.model
    if args.adapter:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, args.adapter)
        model.eval()
    return model, loaded.tokenizer


def reply(model: Any, tokenizer: Any, messages: list[dict[str, str]], args: argparse.Namespace) -> str:
    import torch

    ids = tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt", return_dict=True)
    ids = {k: v.to(model.device) for k, v in ids.items()}
    sampling = {"do_sample": True, "temperature": args.temperature} if args.temperature > 0 else {"do_sample": False}
    with torch.no_grad():
        out = model.generate(**ids, max_new_tokens=args.max_new_tokens, pad_token_id=tokenizer.pad_token_id, **sampling)
    return tokenizer.decode(out[0, ids["input_ids"].shape[1]:], skip_special_tokens=True).strip()


def _start(args: argparse.Namespace) -> list[dict[str, str]]:
    return [{"role": "system", "content": args.system}] if args.system else []


def run_generate(args: argparse.Namespace) -> int:
    model, tokenizer = load(args)
    print(reply(model, tokenizer, _start(args) + [{"role": "user", "content": args.prompt}], args))
    return 0


def run_chat(args: argparse.Namespace) -> int:
    model, tokenizer = load(args)
    messages = _start(args)
    while True:
        try:
            text = input("you> ").strip()
        except EOFError:
            break
        if not text:
            break
        messages.append({"role": "user", "content": text})
        answer = reply(model, tokenizer, messages, args)
        messages.append({"role": "assistant", "content": answer})
        print(f"model> {answer}", flush=True)
    print(file=sys.stderr)
    return 0
