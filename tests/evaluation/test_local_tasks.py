"""lm-eval's real task definitions run offline on local documents (harness.testing_tasks).

Each swapped task must load through lm-eval's own TaskManager, score exactly the
documents the test wrote, and keep everything else of the installed definition:
prompt, metrics, filters, generation settings, few-shot setup. The reference for
"the installed definition" is lm-eval's own YAML loaded as it ships, given the
same documents through ``custom_dataset`` instead of the hub.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import time

import pytest
from lm_eval_docs import (
    bbh_docs,
    bbh_task,
    commonsense_qa_docs,
    general_suite_docs,
    gsm8k_docs,
    hellaswag_docs,
    ifeval_docs,
    mmlu_docs,
    packaged_punkt_folder,
    wikitext_docs,
)

from harness.testing_tasks import (
    installed_task_yaml,
    leaf_tasks,
    task_splits,
    write_local_task,
    write_local_tasks,
)

N = 3
# The fields a local definition may change: where the documents come from.
DATA_SOURCE_FIELDS = {"dataset_path", "dataset_name", "dataset_kwargs", "custom_dataset"}

LOCAL_DOCS = {
    "commonsense_qa": commonsense_qa_docs(N),
    "mmlu_anatomy": mmlu_docs("anatomy", N),
    "mmlu_high_school_physics": mmlu_docs("high_school_physics", N),
    bbh_task("boolean_expressions"): bbh_docs("boolean_expressions", N),
    bbh_task("multistep_arithmetic_two"): bbh_docs("multistep_arithmetic_two", N),
    "gsm8k": gsm8k_docs(N),
    "wikitext": wikitext_docs(N),
    "hellaswag": hellaswag_docs(N),  # sets process_docs
    "ifeval": ifeval_docs(6),  # all six prompt kinds; loading it needs IFEval's extra dependencies
}


@pytest.fixture(scope="module")
def local_tasks(tmp_path_factory):
    """One folder with every local task and one TaskManager over it (building its index takes ~4 s)."""
    from lm_eval.tasks import TaskManager

    folder = write_local_tasks(LOCAL_DOCS, tmp_path_factory.mktemp("local_tasks"))
    return folder, TaskManager(include_path=str(folder))


def _reference_task(name: str, docs: dict[str, list[dict]]):
    """lm-eval's installed definition of ``name`` as it ships, handed ``docs`` instead of its data set."""
    import datasets
    from lm_eval.api.task import ConfigurableTask
    from lm_eval.tasks._yaml_loader import load_yaml

    config = load_yaml(installed_task_yaml(name), resolve_func=True)
    for key in ("tag", "group", "task_list"):
        config.pop(key, None)
    local = datasets.DatasetDict(
        {split: datasets.Dataset.from_list(rows) for split, rows in docs.items()}
    )
    config["custom_dataset"] = lambda **_: local
    return ConfigurableTask(config=config)


def _definition(task) -> dict:
    """A task's config without its data source (nor the YAML path lm-eval notes in its metadata)."""
    config = {
        f.name: getattr(task.config, f.name)
        for f in dataclasses.fields(task.config)
        if f.name not in DATA_SOURCE_FIELDS
    }
    config["metadata"] = {
        k: v for k, v in (config["metadata"] or {}).items() if k != "config_source"
    }
    return config


def _filtered(task, filter_name: str, doc: dict, response: str) -> str:
    """``response`` after the task's filter pipeline ``filter_name``, as lm-eval applies it."""
    ensemble = next(e for e in task._filters if e.name == filter_name)
    responses = [[response]]
    for make_filter in ensemble.filters:
        responses = make_filter().apply(responses, [doc])
    return next(iter(responses))


def _load(local_tasks, name: str):
    folder, manager = local_tasks
    task = manager.load([name])["tasks"][name]
    assert task.config.metadata["config_source"].startswith(str(folder))
    return task


def _assert_swapped(task, name: str) -> None:
    """``task`` reads the local documents and is otherwise lm-eval's installed definition."""
    docs = LOCAL_DOCS[name]
    reference = _reference_task(name, docs)
    assert task.config.dataset_path == "json"
    assert list(task.eval_docs) == list(reference.eval_docs)
    assert _definition(task) == _definition(reference)
    for field in (
        "doc_to_text",
        "metric_list",
        "filter_list",
        "generation_kwargs",
        "num_fewshot",
        "fewshot_config",
    ):
        assert getattr(task.config, field) == getattr(reference.config, field), field
    shots = task.config.num_fewshot or 0
    task.set_fewshot_seed(1234)
    reference.set_fewshot_seed(1234)
    for doc in task.eval_docs:
        assert task.doc_to_text(doc) == reference.doc_to_text(doc)
        assert task.doc_to_target(doc) == reference.doc_to_target(doc)
        assert task.fewshot_context(doc, shots) == reference.fewshot_context(doc, shots)


@pytest.mark.slow
@pytest.mark.parametrize("name", [n for n in LOCAL_DOCS if n not in ("hellaswag", "ifeval")])
def test_swapped_task_reads_exactly_the_written_docs_and_keeps_its_definition(local_tasks, name):
    task = _load(local_tasks, name)
    written = LOCAL_DOCS[name][task_splits(name)[0]]
    assert list(task.eval_docs) == written
    _assert_swapped(task, name)


def test_prompts_are_lm_evals_own(local_tasks):
    """Spot checks against the prompts as lm-eval 0.4.13 writes them, independent of any reference."""
    mmlu = _load(local_tasks, "mmlu_anatomy")
    doc = LOCAL_DOCS["mmlu_anatomy"]["test"][0]
    letters = "".join(f"\n{letter}. {choice}" for letter, choice in zip("ABCD", doc["choices"]))
    assert mmlu.doc_to_text(doc) == f"{doc['question'].strip()}{letters}\nAnswer:"
    assert mmlu.config.fewshot_split == "dev" and mmlu.fewshot_cfg.sampler == "first_n"
    bbh = _load(local_tasks, bbh_task("boolean_expressions"))
    assert (
        bbh.doc_to_text({"input": "True and False is"})
        == "Q: True and False is\nA: Let's think step by step.\n"
    )
    assert bbh.config.num_fewshot == 3 and len(bbh.fewshot_cfg.samples) == 3
    gsm8k = _load(local_tasks, "gsm8k")
    assert gsm8k.config.num_fewshot == 5
    assert gsm8k.fewshot_context(LOCAL_DOCS["gsm8k"]["test"][0], 5).count("Question:") == 6


def test_task_with_process_docs_still_works(local_tasks):
    """HellaSwag's process_docs (resolved from lm-eval's own utils.py) runs on the local rows."""
    task = _load(local_tasks, "hellaswag")
    docs = list(task.eval_docs)
    assert len(docs) == N and {"query", "choices", "gold"} <= set(docs[0])
    assert docs[0]["ind"] == LOCAL_DOCS["hellaswag"]["validation"][0]["ind"]
    _assert_swapped(task, "hellaswag")


@pytest.mark.parametrize(
    "name", [bbh_task("boolean_expressions"), bbh_task("multistep_arithmetic_two")]
)
def test_bbh_targets_score_through_lm_evals_filter_and_metric(local_tasks, name):
    task = _load(local_tasks, name)
    for doc in task.eval_docs:
        answer = _filtered(
            task,
            "get-answer",
            doc,
            f"Let's compute it step by step. So the answer is {doc['target']}.",
        )
        assert task.process_results(doc, [answer])["exact_match"] == 1.0
        wrong = _filtered(task, "get-answer", doc, "So the answer is 12345.")
        assert task.process_results(doc, [wrong])["exact_match"] == 0.0


def test_gsm8k_answers_score_through_lm_evals_filters_and_metric(local_tasks):
    task = _load(local_tasks, "gsm8k")
    for doc in task.eval_docs:
        for filter_name in ("strict-match", "flexible-extract"):
            answer = _filtered(task, filter_name, doc, doc["answer"])
            assert task.process_results(doc, [answer])["exact_match"] == 1.0, (filter_name, doc)


def test_wikitext_scores_with_its_own_process_results(local_tasks):
    task = _load(local_tasks, "wikitext")
    doc = LOCAL_DOCS["wikitext"]["test"][0]
    assert "@-@" not in task.doc_to_target(doc) and "fourth-order" in task.doc_to_target(doc)
    assert set(task.process_results(doc, [-100.0])) == {
        "word_perplexity",
        "byte_perplexity",
        "bits_per_byte",
    }


def test_ifeval_runs_offline_with_packaged_punkt(local_tasks):
    for module in ("langdetect", "immutabledict"):
        if importlib.util.find_spec(module) is None:
            pytest.skip(f"IFEval needs {module} (pip install langdetect immutabledict)")
    punkt = packaged_punkt_folder()
    if punkt is None:
        pytest.skip(
            "IFEval needs NLTK's punkt_tab: pip install --no-deps llama-index-core (ships a copy)"
        )
    import nltk

    if str(punkt) not in nltk.data.path:
        nltk.data.path.insert(0, str(punkt))  # before lm-eval's ifeval module tries to download it
    task = _load(local_tasks, "ifeval")
    assert list(task.eval_docs) == LOCAL_DOCS["ifeval"]["train"]
    _assert_swapped(task, "ifeval")
    sky = next(
        d
        for d in task.eval_docs
        if "length_constraints:number_sentences" in d["instruction_id_list"]
    )
    good = "Sunlight scatters off air molecules. Blue light scatters the most. Is there anything else I can help with?"
    assert task.process_results(sky, [good])["prompt_level_strict_acc"] is True
    too_long = " ".join(["Blue light scatters."] * 6) + " Is there anything else I can help with?"
    assert task.process_results(sky, [too_long])["inst_level_strict_acc"] == [False, True]


def test_splits_the_installed_definitions_read():
    assert task_splits("commonsense_qa") == ["validation", "train"]  # train is read even at 0 shots
    assert task_splits("mmlu_anatomy") == ["test", "dev"]
    assert task_splits(bbh_task("snarks")) == ["test"]  # few-shot samples are inline
    assert task_splits("gsm8k") == ["test", "train"]
    assert task_splits("wikitext") == ["test", "train"]
    assert task_splits("ifeval") == ["train"]


def test_bbh_is_the_27_chain_of_thought_fewshot_subtasks():
    leaves = leaf_tasks("bbh")
    assert len(leaves) == 27 and all(name.startswith("bbh_cot_fewshot_") for name in leaves)
    assert len(leaf_tasks("mmlu")) == 57


def test_clear_errors(tmp_path):
    with pytest.raises(ValueError, match="miss split 'train'"):
        write_local_task(
            "commonsense_qa", {"validation": LOCAL_DOCS["commonsense_qa"]["validation"]}, tmp_path
        )
    with pytest.raises(ValueError, match="never names"):
        write_local_task(
            "gsm8k",
            {**LOCAL_DOCS["gsm8k"], "dev": [{"question": "q", "answer": "#### 1"}]},
            tmp_path,
        )
    with pytest.raises(ValueError, match="is a group"):
        write_local_task("mmlu", {"test": []}, tmp_path)
    with pytest.raises(ValueError, match="no task, group or tag"):
        task_splits("no_such_task")


def test_overriding_some_leaves_leaves_the_groups_tags_whole(local_tasks):
    """Local definitions stay out of tag membership, so mmlu_stem still lists all its subjects."""
    _, manager = local_tasks
    stem = manager.task_index["mmlu_stem_tasks"].tags
    assert "mmlu_anatomy" in stem and "mmlu_high_school_physics" in stem and len(stem) == 19


@pytest.mark.slow
def test_general_suite_loads_offline(tmp_path):
    """lm-eval's mmlu and bbh groups and commonsense_qa, every leaf from local files."""
    from lm_eval.tasks import TaskManager

    started = time.perf_counter()
    docs = general_suite_docs(2)
    folder = write_local_tasks(docs, tmp_path)
    loaded = TaskManager(include_path=str(folder)).load(["mmlu", "bbh", "commonsense_qa"])
    assert set(loaded["tasks"]) == set(docs)
    for name, task in loaded["tasks"].items():
        assert task.config.dataset_path == "json", name
        assert list(task.eval_docs) == docs[name][task_splits(name)[0]], name
    assert {"mmlu", "mmlu_stem", "mmlu_humanities", "bbh"} <= set(loaded["groups"])
    assert time.perf_counter() - started < 120
