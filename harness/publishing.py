"""Publishing what passed: the chosen weights, their model card and the evidence, to the Hub or a folder.

A run's release is its chosen weights (a PEFT adapter or a model folder, with the
tokenizer), a model card (``harness.model_card``) and the evaluation files the
card summarises (verdict.json, results.json, report.md, report.html under
``evaluation/``). Only a passing verdict is published unless the caller says
otherwise: the point of the gate is that a model that forgot does not ship.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from harness.errors import UsageError
from harness.evaluation.gate import EXIT_CODES, verdict_status, read_verdict
from harness.model_card import CARD_NAME, chosen_weights, model_card

EVIDENCE = ("verdict.json", "results.json", "report.md", "report.html")


class NotPublished(UsageError):
    """The verdict does not allow publishing; the exit code is the gate's for that verdict."""

    def __init__(self, message: str, status: str) -> None:
        super().__init__(message)
        self.exit_code = EXIT_CODES[status]


def check_verdict(run_dir: Path, *, allow_fail: bool = False, allow_undecided: bool = False) -> str:
    """The run's verdict status, or :class:`NotPublished` when it is not a pass and not allowed."""
    status, failing = verdict_status(read_verdict(run_dir))
    if status == "fail" and not allow_fail:
        raise NotPublished(f"not published: the verdict is FAIL ({'; '.join(failing)}); --allow-fail publishes "
                           "it anyway", status)
    if status == "undecided" and not allow_undecided:
        raise NotPublished("not published: the verdict is UNDECIDED (the items scored cannot tell a pass from a "
                           "fail); --allow-undecided publishes it anyway", status)
    return status


def release_files(run_dir: Path, target: Path, repo: str) -> list[Path]:
    """Write into ``target`` exactly what is published: weights, tokenizer, README.md card, evaluation/."""
    run_dir = Path(run_dir)
    weights = chosen_weights(run_dir, read_verdict(run_dir))
    if weights is None:
        raise UsageError(f"{run_dir}: the chosen round's weights are not on disk; nothing to publish")
    target.mkdir(parents=True, exist_ok=True)
    for item in sorted(weights.iterdir()):
        if item.name == CARD_NAME or item.name.startswith("."):
            continue  # the card is written fresh below
        (shutil.copytree if item.is_dir() else shutil.copy2)(item, target / item.name)
    (target / CARD_NAME).write_text(model_card(run_dir, repo), encoding="utf-8")
    evidence = target / "evaluation"
    evidence.mkdir(exist_ok=True)
    for name in EVIDENCE:
        if (run_dir / name).is_file():
            shutil.copy2(run_dir / name, evidence / name)
    return sorted(p for p in target.rglob("*") if p.is_file())


def publish(run_dir: Path, repo: str, *, private: bool = False, status: str = "pass") -> str:
    """Upload the release files to the Hub repository ``repo``; returns its URL."""
    from huggingface_hub import HfApi

    from harness.helpers import hub_offline

    if hub_offline():
        raise UsageError(f"cannot publish to {repo}: the Hub is switched off here (HF_HUB_OFFLINE); "
                         "`harness publish RUN_DIR --to-folder DIR` writes what would be uploaded")
    with tempfile.TemporaryDirectory(prefix="harness-publish-") as staging:
        release_files(Path(run_dir), Path(staging), repo)
        api = HfApi()
        try:
            api.create_repo(repo, private=private, exist_ok=True)
            commit = api.upload_folder(folder_path=staging, repo_id=repo,
                                       commit_message=f"harness: forgetting gate {status}")
        except Exception as error:  # huggingface_hub raises many kinds (auth, network, permissions)
            raise UsageError(f"could not publish to {repo}: {type(error).__name__}: {error}") from None
    return getattr(commit, "commit_url", None) or f"https://huggingface.co/{repo}"


__all__ = ["EVIDENCE", "NotPublished", "check_verdict", "publish", "release_files"]
