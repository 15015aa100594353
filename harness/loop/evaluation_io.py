"""A round's evaluation record to JSON and back (``forgetting.json`` and the verdict's rounds).

The per-benchmark results themselves are read by :class:`harness.loop.rundir.RunFolder`;
this module holds the comparisons and the round's verdict fields written beside them.
"""

from __future__ import annotations

from typing import Any

from harness.evaluation import stats
from harness.loop.rundir import RunFolder, read_json
from harness.records import EvaluationRecord


def comparisons_json(record: EvaluationRecord) -> dict[str, Any]:
    return {
        "threshold": record.threshold,
        "policy": record.policy,
        "method": record.method,
        "passed": record.passed,
        "status": record.status,
        "reasons": record.reasons,
        "worst_forgetting": record.worst_forgetting(),
        "forgetting": {k: c.as_dict() for k, c in record.forgetting.items()},
        "gain": {k: c.as_dict() for k, c in record.gain.items()},
    }


def point_json(evaluation: EvaluationRecord) -> dict[str, Any]:
    """One probed scale, as interpolation.json keeps it."""
    return {"status": evaluation.status or ("pass" if evaluation.passed else "fail"), "passed": evaluation.passed,
            "worst_forgetting": evaluation.worst_forgetting(), "domain_gain": evaluation.domain_gain(),
            "domain_score": evaluation.domain_score(),
            "forgetting": {k: c.as_dict() for k, c in evaluation.forgetting.items()},
            "gain": {k: c.as_dict() for k, c in evaluation.gain.items()}}


def _comparison_from_json(data: dict[str, Any]) -> stats.Comparison:
    data = {k: v for k, v in data.items() if k in stats.Comparison.__dataclass_fields__}
    data["difference_ci"] = stats.Interval(**data["difference_ci"])
    data["relative_ci"] = stats.Interval(**data["relative_ci"])
    data.setdefault("p_test", "mcnemar" if data.get("p_is_mcnemar", True) else "sign")  # saved before p_test
    return stats.Comparison(**data)


def load_evaluation(folder: RunFolder, index: int) -> EvaluationRecord:
    files = folder.round(index)
    saved = read_json(files.forgetting)
    return EvaluationRecord(
        base=folder.load_results(files.base_eval if files.base_eval.is_file() else folder.base_eval),
        candidate=folder.load_results(files.eval),
        forgetting={k: _comparison_from_json(v) for k, v in saved["forgetting"].items()},
        gain={k: _comparison_from_json(v) for k, v in saved["gain"].items()},
        passed=saved["passed"], policy=saved["policy"], threshold=saved["threshold"],
        status=saved.get("status", "pass" if saved["passed"] else "fail"), reasons=saved.get("reasons", []),
        method=saved.get("method", ""),
    )
