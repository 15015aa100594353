"""Document transforms referenced by the offline task YAMLs (``!function offline_suite_utils.*``).

They reproduce the standard formulations of these benchmarks (the ones lm-eval's
hub tasks score), written for this project, so an offline score means the same
as an online one. Standard library only: the materialiser copies this file next
to the YAMLs and lm-eval loads it by path.
"""

from __future__ import annotations

import re

_BRACKETED = re.compile(r"\[[^\]]*\]")


def _clean_wikihow(text: str) -> str:
    """HellaSwag's WikiHow half carries markup like ``[title]`` and ``[step]``: turn it into prose."""
    text = text.strip().replace(" [title]", ". ")
    return _BRACKETED.sub("", text).replace("  ", " ")


def hellaswag_process_docs(dataset):
    """Context = activity label + both context halves; choices = the four cleaned endings."""

    def transform(doc):
        context = f"{doc['activity_label']}: {doc['ctx_a']} {doc['ctx_b'].capitalize()}"
        return {
            "query": _clean_wikihow(context),
            "choices": [_clean_wikihow(ending) for ending in doc["endings"]],
            "gold": int(doc["label"]),
        }

    return dataset.map(transform)


# Winogrande is scored by "partial evaluation": each option is substituted into the
# blank, and the model is asked how likely the rest of the sentence is after it. So
# the *contexts* differ between choices and the continuation is shared.


def winogrande_doc_to_text(doc) -> int:
    """The index of the gold context (answers are the strings "1" and "2")."""
    return int(doc["answer"]) - 1


def winogrande_doc_to_choice(doc) -> list[str]:
    before_blank = doc["sentence"].split("_", 1)[0]
    return [before_blank + doc["option1"], before_blank + doc["option2"]]


def winogrande_doc_to_target(doc) -> str:
    return doc["sentence"].split("_", 1)[1].strip()


# COPA: "<premise without its full stop> because/therefore" + " <choice, first letter lowered>".


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]


def copa_doc_to_text(doc) -> str:
    link = "because" if doc["question"] == "cause" else "therefore"
    return f"{doc['premise'].strip()[:-1]} {link}"


def copa_doc_to_choice(doc) -> list[str]:
    return [" " + _lower_first(doc["choice1"]), " " + _lower_first(doc["choice2"])]


def copa_doc_to_target(doc) -> str:
    return copa_doc_to_choice(doc)[int(doc["label"])]
