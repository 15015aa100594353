"""Chat templates by name (Axolotl's ``chat_template:`` key), for base models that ship none.

An instruct model's tokenizer carries its own template (``tokenizer_default``). A
base model, e.g. Gemma-3-270m or Llama-3.1-8B, often has none, and chat data
cannot be rendered without one: the config then names one of the formats below
(the prompt format of the model families the seed names), or gives its own Jinja
with ``chat_template: jinja`` and ``chat_template_jinja:``.

Every template here is prefix-stable: rendering the first ``k`` messages gives a
prefix of rendering all of them, which is what lets the trainer put loss on the
assistant turns only (:func:`harness.data.tokenize.render`).
"""

from __future__ import annotations

from typing import Any

from harness.errors import UsageError

CHATML = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)

LLAMA3 = (
    "{{ bos_token }}"
    "{% for message in messages %}"
    "{{ '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n' + message['content'] | trim + '<|eot_id|>' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}"
)

# Mistral's [INST] format has no system role: a system message opens the first instruction.
MISTRAL = (
    "{{ bos_token }}"
    "{% for message in messages %}"
    "{% if message['role'] == 'system' %}{{ '[INST] ' + message['content'] + '\n\n' }}"
    "{% elif message['role'] == 'user' %}"
    "{% if loop.index0 == 1 and messages[0]['role'] == 'system' %}{{ message['content'] + ' [/INST]' }}"
    "{% else %}{{ '[INST] ' + message['content'] + ' [/INST]' }}{% endif %}"
    "{% else %}{{ ' ' + message['content'] + eos_token }}{% endif %}"
    "{% endfor %}"
)

# Gemma calls the assistant "model" and has no system role: system text is a user turn.
GEMMA = (
    "{{ bos_token }}"
    "{% for message in messages %}"
    "{% set role = 'model' if message['role'] == 'assistant' else 'user' %}"
    "{{ '<start_of_turn>' + role + '\n' + message['content'] | trim + '<end_of_turn>\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<start_of_turn>model\n' }}{% endif %}"
)

TEMPLATES: dict[str, str] = {"chatml": CHATML, "qwen2": CHATML, "llama3": LLAMA3, "mistral": MISTRAL,
                             "gemma": GEMMA}
# Every value the config's ``chat_template`` accepts.
NAMES = ("tokenizer_default", "tokenizer_default_fallback_chatml", *TEMPLATES, "jinja")


def apply_chat_template_choice(tokenizer: Any, choice: str | None, jinja: str | None = None) -> None:
    """Set ``tokenizer.chat_template`` as the config asks (``None`` keeps the tokenizer's own)."""
    if choice in (None, "tokenizer_default"):
        return
    if choice == "tokenizer_default_fallback_chatml":
        if not tokenizer.chat_template:
            tokenizer.chat_template = CHATML
        return
    if choice == "jinja":
        if not jinja:
            raise UsageError("chat_template: jinja needs the template itself in chat_template_jinja")
        tokenizer.chat_template = jinja
        return
    if choice not in TEMPLATES:
        raise UsageError(f"chat_template: unknown template {choice!r}; choose one of {', '.join(NAMES)}")
    tokenizer.chat_template = TEMPLATES[choice]


def missing_template_message(model: str) -> str:
    return (f"the tokenizer of {model!r} has no chat template, so chat data cannot be rendered; set "
            f"chat_template: in the config to one of {', '.join(n for n in NAMES if n != 'tokenizer_default')} "
            f"(e.g. chatml for a base model), or use completion data (type: completion)")
