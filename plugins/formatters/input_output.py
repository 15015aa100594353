"""Axolotl's template-free ``input_output`` records: ``{"segments": [{"label": bool, "text": str}, ...]}``.

The segments are joined exactly as written (no chat template, no token added), and
the loss covers the segments labelled true: the format for data whose prompt
layout is not a chat (a fixed report form, a tool transcript). With ``train_on:
all`` every segment is trained, as Axolotl's ``train_on_inputs: true`` does.
Tokens are cut from the joined text, so a token that straddles two segments is
trained when it starts in a labelled one.
"""

from __future__ import annotations

from typing import Any

from harness import Example, FormatError, Formatter

from .common import require_mapping


class InputOutputFormatter(Formatter):
    name = "input_output"
    aliases = ("template_free",)
    summary = "{segments: [{label, text}]}: text as written, trained where label is true (Axolotl's input_output)"

    def detect(self, record: dict[str, Any]) -> bool:
        return isinstance(record, dict) and isinstance(record.get("segments"), list)

    def parse(self, record: dict[str, Any]) -> Example:
        segments = require_mapping(record).get("segments")
        if not isinstance(segments, list) or not segments:
            raise FormatError("'segments' must be a non-empty list of {label, text}")
        text, spans = "", []
        for i, segment in enumerate(segments):
            if not isinstance(segment, dict) or not isinstance(segment.get("text"), str):
                raise FormatError(f"segments[{i}]: expected {{label, text}} with text a string")
            label = segment.get("label", True)
            if not isinstance(label, bool):
                raise FormatError(f"segments[{i}].label must be true or false, got {label!r}")
            if label and segment["text"]:
                spans.append((len(text), len(text) + len(segment["text"])))
            text += segment["text"]
        if not text.strip():
            raise FormatError("the segments hold no text")
        if not spans:
            raise FormatError("no segment has label: true, so there is nothing to train on")
        return Example(text=text, trained_spans=tuple(spans))

    def dump(self, example: Example) -> dict[str, Any]:
        if example.is_chat:
            raise FormatError("input_output holds template-free text; this example is a conversation with roles")
        spans = example.trained_spans or ((0, len(example.text)),)
        segments, at = [], 0
        for start, end in spans:
            if start > at:
                segments.append({"label": False, "text": example.text[at:start]})
            segments.append({"label": True, "text": example.text[start:end]})
            at = end
        if at < len(example.text):
            segments.append({"label": False, "text": example.text[at:]})
        return {"segments": segments}
