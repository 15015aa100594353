"""Send a finished run to the experiment trackers its config names, from the run folder alone.

Everything comes from what the run wrote (config.yml, each round's plan, training
metrics and forgetting.json, verdict.json, the reports), so a run is sent the same
way at its end, by ``harness compare`` per strategy, after ``compare-models
--run-dir``, or again later. Per round ``r`` (the step):

- ``general_share``, ``learning_rate``, ``worst_forgetting_pct``, ``train_loss``, ``val_loss``;
- per general benchmark ``B``: ``B/base``, ``B/finetuned``, ``B/forgetting_pct``,
  ``B/forgetting_ci_low``, ``B/forgetting_ci_high``, ``B/n``, and ``B/status`` (1 pass,
  -1 fail, 0 undecided; uninformative is left out);
- per domain benchmark: ``B/base``, ``B/finetuned``, ``B/gain_pct``;

then, per training step, ``round_r/train_loss``; at the end ``verdict`` (1 pass, -1
fail, 0 undecided) and ``chosen_round``, the report files as artifacts, and the
status. A tracker that fails (unreachable, misconfigured) is a warning naming it; the
others carry on and the run's verdict and exit code stand.
"""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path
from typing import Any

import yaml

from harness.components import Tracker

log = logging.getLogger(__name__)

STATUS_CODES = {"pass": 1.0, "fail": -1.0, "undecided": 0.0}
ARTIFACTS = ("verdict.json", "results.json", "report.md", "report.html", "config.yml")


def flat(mapping: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """A nested config as ``a.b.c`` keys (what trackers show as parameters)."""
    out: dict[str, Any] = {}
    for key, value in mapping.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            out.update(flat(value, name + "."))
        else:
            out[name] = value if isinstance(value, (int, float, str, bool)) or value is None else json.dumps(value)
    return out


def round_metrics(run_dir: Path, verdict: dict[str, Any]) -> list[tuple[int, dict[str, float]]]:
    """(round, metrics) for every round of the verdict, in order."""
    out = []
    for entry in verdict.get("rounds", []):
        metrics: dict[str, float] = {
            "general_share": entry.get("general_share"), "learning_rate": entry.get("learning_rate"),
            "worst_forgetting_pct": entry.get("worst_forgetting")}
        training = _read(run_dir / "rounds" / f"round-{entry['round']}" / "training.json")
        metrics.update(train_loss=training.get("train_loss"), val_loss=training.get("val_loss"))
        for name, c in (entry.get("forgetting") or {}).items():
            metrics.update({f"{name}/base": c.get("base"), f"{name}/finetuned": c.get("candidate"),
                            f"{name}/forgetting_pct": c.get("relative"), f"{name}/n": c.get("n"),
                            f"{name}/forgetting_ci_low": (c.get("relative_ci") or {}).get("low"),
                            f"{name}/forgetting_ci_high": (c.get("relative_ci") or {}).get("high"),
                            f"{name}/status": STATUS_CODES.get(c.get("status", ""))})
        for name, c in (entry.get("gain") or {}).items():
            metrics.update({f"{name}/base": c.get("base"), f"{name}/finetuned": c.get("candidate"),
                            f"{name}/gain_pct": -c["relative"] if c.get("relative") is not None else None})
        out.append((entry["round"], {k: float(v) for k, v in metrics.items() if _finite(v)}))
    return out


def training_curve(run_dir: Path, round_index: int) -> list[tuple[int, float]]:
    """(step, loss) of one round's training, from its metrics file."""
    path = run_dir / "rounds" / f"round-{round_index}" / "train" / "metrics.jsonl"
    if not path.is_file():
        return []
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [(int(r["step"]), float(r["loss"])) for r in rows
            if r.get("type", "train") == "train" and _finite(r.get("loss")) and "step" in r]


def send(harness: Any, run_dir: Path, *, group: str | None = None) -> list[str]:
    """Send the run in ``run_dir`` to its config's trackers; returns the names that took it whole."""
    run_dir = Path(run_dir)
    config = yaml.safe_load((run_dir / "config.yml").read_text(encoding="utf-8")) or {}
    refs = [ref if isinstance(ref, dict) else {"name": ref} for ref in config.get("trackers") or []]
    if not refs:
        return []
    verdict = json.loads((run_dir / "verdict.json").read_text(encoding="utf-8"))
    rounds = round_metrics(run_dir, verdict)
    done = []
    for ref in refs:
        name = ref["name"]
        options = {k: v for k, v in ref.items() if k not in ("name", "options")} | (ref.get("options") or {})
        cls = harness.tracker(name)
        tracker: Tracker = cls(cls.Options.model_validate(options))
        try:
            tracker.start(run_dir.name, flat(config), run_dir, group=group)
            for index, metrics in rounds:
                tracker.log(metrics, step=index)
                for step, loss in training_curve(run_dir, index):
                    tracker.log({f"round_{index}/train_loss": loss}, step=step)
            tracker.log({"verdict": STATUS_CODES.get(verdict.get("status", ""), math.nan),
                         "chosen_round": float(verdict.get("chosen_round") or 0)}, step=len(rounds))
            tracker.artifacts([run_dir / f for f in ARTIFACTS if (run_dir / f).is_file()])
            tracker.finish(verdict.get("status", "undecided"))
            done.append(name)
        except Exception as error:  # a tracker's own failure never costs the run
            log.warning("tracker %s: could not send %s: %s: %s", name, run_dir, type(error).__name__, error)
            print(f"warning: tracker {name} could not take the run ({type(error).__name__}: {error}); "
                  f"the run and its verdict are in {run_dir}")
    return done


def _read(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


__all__ = ["ARTIFACTS", "STATUS_CODES", "flat", "round_metrics", "send", "training_curve"]
