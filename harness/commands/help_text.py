"""What every command's ``--help`` ends with: its exit codes and an example.

A CI job gates on exit codes, so each command says what its codes mean where a user
looks first. Kept in one table so the codes of commands that share a meaning (the
verdict's 0 / 1 / 3) are written once.
"""

from __future__ import annotations

USAGE = "2 bad input: an invalid config or argument (nothing loaded), a missing file"
VERDICT = ("0 pass: every gated general benchmark decided under the threshold",
           "1 fail: a general benchmark forgot more than the threshold",
           "3 undecided: the items scored cannot tell a pass from a fail",
           USAGE)
DONE = ("0 done", USAGE)

EXIT_CODES: dict[str, tuple[str, ...]] = {
    "run": VERDICT,
    "gate": VERDICT,
    "compare-models": VERDICT,
    "publish": ("0 published (or written with --to-folder)", "1 not published: the verdict is FAIL",
                "3 not published: the verdict is UNDECIDED", USAGE),
    "compare": ("0 the recommended strategy passed and no strategy failed to run",
                "1 no strategy passed, or one could not run", USAGE),
    "data": ("0 every line is valid", "1 problems found (each named by file and line)", USAGE),
    "validate": ("0 valid (warnings say what this machine could not run)",
                 "2 bad input: an invalid config (the key, and what is allowed), or with --gpu-memory / "
                 "--gpus a memory plan that does not fit"),
}

EXAMPLES: dict[str, str] = {
    "plugins": "harness plugins",
    "validate": "harness validate configs/full_ft_8b.yml --gpu-memory 80 --gpus 4",
    "data": "harness data inspect plugins/example_data/emergency_response/train.jsonl",
    "run": "harness run configs/demo.yml --run-dir runs/demo",
    "gate": "harness gate runs/demo --max-forgetting 5",
    "report": "harness report runs/demo",
    "publish": "harness publish runs/demo --to-folder release/",
    "demo": "harness demo",
    "eval": "harness eval --model smollm2-135m-instruct --suite general-small",
    "compare-models": "harness compare-models --base meta-llama/Llama-3.1-8B-Instruct --candidate ./my-finetune",
    "compare": "harness compare configs/compare_strategies.yml --compare-dir runs/compare",
    "train": "harness train configs/demo.yml",
    "merge": "harness merge --base smollm2-135m-instruct --adapter runs/demo/rounds/round-1/train/adapter "
             "--output merged/",
    "export-gguf": "harness export-gguf runs/demo --output demo-q8_0.gguf --type q8_0",
    "generate": "harness generate --model smollm2-135m-instruct --prompt 'What is a fire triangle?'",
    "chat": "harness chat --model smollm2-135m-instruct",
    "lr-find": "harness lr-find configs/demo.yml",
}


def epilog(command: str) -> str:
    """The lines ``harness COMMAND --help`` ends with."""
    codes = EXIT_CODES.get(command, DONE)
    lines = ["exit codes:", *(f"  {code}" for code in codes)]
    if command in EXAMPLES:
        lines += ["", "example:", f"  {EXAMPLES[command]}"]
    return "\n".join(lines)
