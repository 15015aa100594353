"""lm-eval's real task definitions, scored and judged by harness offline.

Each task here is lm-eval's installed YAML with only its documents swapped for small
local files of the same schema (:mod:`harness.testing_tasks`, :mod:`lm_eval_docs`):
prompts, metrics, filters, generation settings and few-shot configs are exactly as
lm-eval ships them. Every output type goes through ``harness eval`` and through a
loop round on the tiny model; the slow tests run the seed's whole ``general`` suite
and check per-item parity with lm-eval's own evaluator on SmolLM2.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import pytest
import yaml

from harness.cli import main
from harness.testing import build_tiny_model, chat_records, write_jsonl
from harness.testing_tasks import write_local_tasks
from lm_eval_docs import (
    bbh_docs,
    bbh_task,
    commonsense_qa_docs,
    general_suite_docs,
    gsm8k_docs,
    ifeval_docs,
    mmlu_docs,
    packaged_punkt_folder,
    truthfulqa_gen_docs,
    wikitext_docs,
)

BBH_BOOLEAN = bbh_task("boolean_expressions")
BBH_ARITHMETIC = bbh_task("multistep_arithmetic_two")


@pytest.fixture(scope="module")
def tiny_long_context(tmp_path_factory) -> Path:
    """The tiny Llama with a 4k context: BBH asks for up to 1,024 new tokens after a long prompt."""
    return build_tiny_model(tmp_path_factory.mktemp("tiny-4k"), max_position_embeddings=4096)


@pytest.fixture(scope="module")
def local_tasks(tmp_path_factory) -> Path:
    """One or two tasks of each output type, lm-eval's definitions over local documents."""
    return write_local_tasks({
        "mmlu_anatomy": mmlu_docs("anatomy", 12),
        "mmlu_astronomy": mmlu_docs("astronomy", 12),
        "commonsense_qa": commonsense_qa_docs(12),
        BBH_BOOLEAN: bbh_docs("boolean_expressions", 8),
        BBH_ARITHMETIC: bbh_docs("multistep_arithmetic_two", 8),
        "gsm8k": gsm8k_docs(8),
        "wikitext": wikitext_docs(6),
        "ifeval": ifeval_docs(6),
        "truthfulqa_gen": truthfulqa_gen_docs(6),
    }, tmp_path_factory.mktemp("lm-eval-tasks"))


def _eval(model: Path, folder: Path, out: Path, *flags: str) -> dict:
    code = main(["eval", "--model", str(model), "--include-path", str(folder), "--limit", "4", "--no-cache",
                 "--dtype", "float32", "--json", str(out), *flags])
    assert code == 0
    return {r["benchmark"]: r for r in json.loads(out.read_text())["results"]}


@pytest.mark.slow
def test_every_output_type_scores_per_item_through_harness_eval(tiny_long_context, local_tasks, tmp_path, caplog):
    tasks = ["mmlu_anatomy", "mmlu_astronomy", "commonsense_qa", BBH_BOOLEAN, "gsm8k", "wikitext", "truthfulqa_gen"]
    with caplog.at_level(logging.WARNING):
        results = _eval(tiny_long_context, local_tasks, tmp_path / "out.json",
                        *[flag for task in tasks for flag in ("--task", task)])
    metrics = {name.removeprefix("lm_eval:"): (r["metric"], r["extra"].get("filter")) for name, r in results.items()}
    assert metrics == {
        "mmlu_anatomy": ("acc", "none"),
        "mmlu_astronomy": ("acc", "none"),
        "commonsense_qa": ("acc", "none"),  # lm-eval's commonsense_qa logs acc only
        BBH_BOOLEAN: ("exact_match", "get-answer"),
        "gsm8k": ("exact_match", "strict-match"),
        "wikitext": ("nll", "none"),  # per document: its negative log-likelihood
        "truthfulqa_gen": ("bleu_max", "none"),  # graded: a BLEU score per answer
    }
    for result in results.values():
        assert result["n"] == 4 and len(result["items"]) == 4
    assert all(score in (0.0, 1.0) for score in results[f"lm_eval:{BBH_BOOLEAN}"]["items"].values())
    assert all(score > 0 for score in results["lm_eval:wikitext"]["items"].values())
    assert results["lm_eval:wikitext"]["extra"]["word_perplexity"] > 1
    # BBH's 1,024-token budget on a CPU is announced with a measured time per item.
    assert any("generates up to 1024 tokens per item" in r.getMessage() for r in caplog.records)


def _ifeval_ready() -> str:
    """Why IFEval cannot run here ("" when it can); puts NLTK's packaged punkt_tab on its path."""
    import importlib.util

    for module in ("langdetect", "immutabledict"):
        if importlib.util.find_spec(module) is None:
            return f"IFEval needs {module} (the test extras)"
    punkt = packaged_punkt_folder()
    if punkt is None:
        return "IFEval needs NLTK's punkt_tab: pip install --no-deps llama-index-core (ships a copy)"
    import nltk

    if str(punkt) not in nltk.data.path:
        nltk.data.path.insert(0, str(punkt))  # before lm-eval's IFEval module looks for it
    return ""


@pytest.mark.slow
def test_ifeval_scores_prompt_level_strict_accuracy(tiny_long_context, local_tasks, tmp_path):
    if reason := _ifeval_ready():
        pytest.skip(reason)
    results = _eval(tiny_long_context, local_tasks, tmp_path / "out.json", "--task", "ifeval")
    (result,) = results.values()
    # The per-prompt metric pairs by item; the instruction-level ones aggregate over the corpus.
    assert result["metric"] == "prompt_level_strict_acc" and result["n"] == 4
    assert all(score in (0.0, 1.0) for score in result["items"].values())
    assert main(["eval", "--model", str(tiny_long_context), "--include-path", str(local_tasks), "--task", "ifeval",
                 "--metric", "inst_level_strict_acc"]) == 2


def test_gsm8k_scores_the_filter_asked_for(tiny_long_context, local_tasks, tmp_path):
    results = _eval(tiny_long_context, local_tasks, tmp_path / "out.json", "--task", "gsm8k",
                    "--filter", "flexible-extract", "--batch-size", "auto")
    (result,) = results.values()
    assert result["benchmark"] == "lm_eval:gsm8k[flexible-extract]" and result["extra"]["filter"] == "flexible-extract"
    assert result["extra"]["batch_size"] == 8  # auto probes accelerator memory; a CPU run keeps a fixed size


def test_chat_template_and_system_instruction_reach_the_prompts(tiny_long_context, local_tasks, monkeypatch):
    """lm-eval's --apply_chat_template / --system_instruction, seen in the requests the model gets."""
    from harness.evaluation.scoring import load_eval_model, take_items
    from harness.plugins import load_harness
    from harness_plugins.benchmarks import lm_eval_tasks

    contexts: list[str] = []
    build = lm_eval_tasks._hflm

    def spying_hflm(*args, **kwargs):
        lm = build(*args, **kwargs)
        score = lm.loglikelihood

        def loglikelihood(requests, *rest, **more):
            contexts.extend(r.args[0] for r in requests)
            return score(requests, *rest, **more)

        lm.loglikelihood = loglikelihood
        return lm

    monkeypatch.setattr(lm_eval_tasks, "_hflm", spying_hflm)
    generic = load_harness().benchmark("lm_eval")
    model = load_eval_model(str(tiny_long_context), dtype="float32", device="cpu")
    plain = generic(generic.Options(task="mmlu_anatomy", include_path=str(local_tasks)))
    chat = generic(generic.Options(task="mmlu_anatomy", include_path=str(local_tasks), apply_chat_template=True,
                                   system_instruction="Answer with one letter."))
    assert plain.definition_fingerprint() != chat.definition_fingerprint()  # never one cache entry for both
    plain.evaluate(model, items=take_items(plain, 2, 0), batch_size=2)
    assert contexts and not any("<|im_start|>" in c for c in contexts)
    contexts.clear()
    chat.evaluate(model, items=take_items(chat, 2, 0), batch_size=2)
    assert contexts and all(c.startswith("<|im_start|>system\nAnswer with one letter.") for c in contexts)
    assert all("<|im_start|>assistant" in c for c in contexts)


def test_compare_models_judges_a_perplexity_task_on_its_own_scale(tiny_long_context, local_tasks, tmp_path,
                                                                     capsys):
    report = tmp_path / "same.json"
    code = main(["compare-models", "--base", str(tiny_long_context), "--candidate", str(tiny_long_context),
                 "--task", "wikitext", "--include-path", str(local_tasks), "--first-look", "10", "--max-items", "10",
                 "--dtype", "float32", "--no-cache", "--json", str(report)])
    assert code == 0, capsys.readouterr().out
    (same,) = json.loads(report.read_text())["forgetting"]
    # The same weights: no change in any document's NLL, decided pass on a graded metric.
    assert same["metric"] == "nll" and same["higher_is_better"] is False and same["p_test"] == "paired_t"
    assert same["relative"] == 0 and same["status"] == "pass" and same["n"] == 6


def _loop_config(tmp_path: Path, model: Path, benchmarks: dict) -> Path:
    write_jsonl(tmp_path / "domain.jsonl", chat_records(24))
    write_jsonl(tmp_path / "general.jsonl", chat_records(24, topic="general", seed=3))
    config = {
        "base_model": str(model), "adapter": "lora", "lora_r": 2, "lora_alpha": 4, "max_steps": 1,
        "micro_batch_size": 2, "gradient_accumulation_steps": 1, "sequence_len": 128,
        "datasets": [{"path": str(tmp_path / "domain.jsonl"), "type": "chatml"}],
        "mitigation": {"schedule": [0.2], "general_data": [{"path": str(tmp_path / "general.jsonl"), "type": "chatml"}]},
        "benchmarks": {"first_look": 10, "max_items": 10, **benchmarks},
    }
    path = tmp_path / "run.yml"
    path.write_text(yaml.safe_dump(config))
    return path


STATUSES = {"pass", "fail", "undecided", "uninformative"}


@pytest.mark.slow
def test_a_loop_round_judges_every_output_type(tiny_long_context, local_tasks, tmp_path):
    general = [{"name": "lm_eval", "task": "mmlu_anatomy"}, {"name": "lm_eval", "task": BBH_ARITHMETIC},
               {"name": "lm_eval", "task": "gsm8k", "filter": "flexible-extract"},
               {"name": "lm_eval", "task": "wikitext"}, {"name": "lm_eval", "task": "truthfulqa_gen"},
               "commonsense_qa"]
    ifeval = not _ifeval_ready()
    if ifeval:
        general.append({"name": "lm_eval", "task": "ifeval"})
    config = _loop_config(tmp_path, tiny_long_context, {
        "suite": None, "general": general, "options": {"include_path": str(local_tasks)}})
    code = main(["run", str(config), "--run-dir", str(tmp_path / "run")])
    assert code in (0, 1, 3)  # pass, fail or undecided: a verdict, whichever the tiny model earns
    forgetting = json.loads((tmp_path / "run" / "rounds" / "round-1" / "forgetting.json").read_text())["forgetting"]
    assert {name: c["metric"] for name, c in forgetting.items()} == {
        "lm_eval:mmlu_anatomy": "acc", f"lm_eval:{BBH_ARITHMETIC}": "exact_match",
        "lm_eval:gsm8k[flexible-extract]": "exact_match", "lm_eval:wikitext": "nll",
        "lm_eval:truthfulqa_gen": "bleu_max", "commonsense_qa": "acc",
        **({"lm_eval:ifeval": "prompt_level_strict_acc"} if ifeval else {})}
    assert all(c["status"] in STATUSES for c in forgetting.values())
    perplexity = forgetting["lm_eval:wikitext"]
    # A log-likelihood is graded and lower is better: judged on its own scale, never "uninformative".
    assert perplexity["higher_is_better"] is False and perplexity["p_test"] == "paired_t"
    assert perplexity["status"] in {"pass", "fail", "undecided"} and perplexity["n"] == 6
    report = (tmp_path / "run" / "report.md").read_text()
    assert "lm_eval:wikitext" in report and "lm_eval:gsm8k[flexible-extract]" in report


@pytest.mark.slow
def test_the_seed_general_suite_runs_end_to_end(tiny_long_context, tmp_path):
    folder = write_local_tasks(general_suite_docs(4), tmp_path / "tasks")
    config = _loop_config(tmp_path, tiny_long_context, {"suite": "general", "options": {"include_path": str(folder)}})
    assert main(["validate", str(config)]) == 0
    code = main(["run", str(config), "--run-dir", str(tmp_path / "run")])
    assert code in (0, 1, 3)
    verdict = json.loads((tmp_path / "run" / "verdict.json").read_text())
    forgetting = json.loads((tmp_path / "run" / "rounds" / "round-1" / "forgetting.json").read_text())["forgetting"]
    assert {name: c["metric"] for name, c in forgetting.items()} == {
        "mmlu": "acc", "bbh": "exact_match", "commonsense_qa": "acc"}
    assert all(c["status"] in STATUSES for c in forgetting.values()) and verdict["status"] in STATUSES


# ----------------------------------------------------------------- parity with lm-eval


def _lm_eval_outcomes(folder: Path, model_dir: Path, task: str, doc_ids: list[int], metric: str, filter_name: str,
                      batch_size: int) -> dict[int, float]:
    """lm-eval's own evaluator (its HFLM, loading the model itself) on the same documents."""
    from lm_eval import simple_evaluate
    from lm_eval.tasks import TaskManager

    from harness_plugins.benchmarks.lm_eval_tasks import _item_score

    out = simple_evaluate(model="hf", model_args=f"pretrained={model_dir},dtype=float32", device="cpu",
                          tasks=[task], task_manager=TaskManager(include_path=str(folder)),
                          samples={task: doc_ids}, log_samples=True, batch_size=batch_size, bootstrap_iters=0)
    return {r["doc_id"]: _item_score(r, metric, task)[0] for r in out["samples"][task] if r["filter"] == filter_name}


@pytest.mark.slow
def test_per_item_outcomes_equal_lm_evals_own_evaluator_on_smollm2(tmp_path):
    """fp32, same documents and batch size: every item's outcome identical, per output type."""
    from harness.evaluation.scoring import load_eval_model
    from harness.models.loading import local_folder, resolve_model
    from harness.plugins import load_harness

    # Generation is what costs on a CPU (BBH's chain of thought runs to hundreds of tokens after a
    # ~1,000-token 3-shot prompt), so the generative tasks get a few items each.
    folder = write_local_tasks({
        "mmlu_anatomy": mmlu_docs("anatomy", 24), "commonsense_qa": commonsense_qa_docs(24),
        BBH_BOOLEAN: bbh_docs("boolean_expressions", 3), "gsm8k": gsm8k_docs(3), "wikitext": wikitext_docs(6),
    }, tmp_path / "tasks")
    model = load_eval_model("smollm2-135m-instruct", dtype="float32", device="cpu")
    model_dir = local_folder(resolve_model("smollm2-135m-instruct"))
    generic = load_harness().benchmark("lm_eval")
    cases = [("mmlu_anatomy", None, 24), ("commonsense_qa", None, 24), (BBH_BOOLEAN, None, 3),
             ("gsm8k", "strict-match", 3), ("gsm8k", "flexible-extract", 3), ("wikitext", None, 6)]
    report = {}
    for task, filter_name, n in cases:
        benchmark = generic(generic.Options(task=task, include_path=str(folder), filter=filter_name))
        items = [str(i) for i in range(n)]
        start = time.perf_counter()
        ours = {int(i.item_id): i.score for i in benchmark.evaluate(model, items=items, batch_size=3).items}
        seconds = time.perf_counter() - start
        theirs = _lm_eval_outcomes(folder, model_dir, task, list(range(n)), benchmark.options.metric or
                                   benchmark.metric, benchmark.filter, batch_size=3)
        same = sum(ours[d] == pytest.approx(theirs[d], rel=1e-4, abs=1e-4) for d in ours)
        report[f"{task}[{benchmark.filter}]"] = {"n": n, "identical": same, "seconds_per_item": seconds / n}
        assert set(ours) == set(theirs)
        assert same == n, (task, ours, theirs)
    print(json.dumps(report, indent=1))
