"""What an lm-eval task measures comes from its installed YAML, and a wrong choice exits 2 before any model loads.

These read lm-eval's real task definitions (local files inside the package); no
model, no data and no network are needed, which is the point: a run that names a
metric BBH does not log must fail in seconds, not after generating every answer.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from harness.cli import main
from harness.evaluation import sequential
from harness.evaluation.stats import paired_t_p
from harness_plugins.benchmarks import lm_eval_specs
from harness_plugins.benchmarks.lm_eval_tasks import _item_score, _perplexity

ROOT = Path(__file__).resolve().parents[2]
# A model path that cannot load: any command that reached a model would fail differently.
NO_MODEL = "/nonexistent/model-that-must-not-load"


def test_bbh_is_chain_of_thought_generation_scored_by_exact_match_after_its_regex():
    leaves = lm_eval_specs.read_task("bbh")
    assert len(leaves) == 27
    first = leaves["bbh_cot_fewshot_boolean_expressions"]
    assert first.output_type == "generate_until" and first.max_gen_toks == 1024 and first.num_fewshot == 3
    assert lm_eval_specs.default_metric("bbh", leaves) == "exact_match"
    assert lm_eval_specs.default_filter(leaves) == "get-answer"
    assert lm_eval_specs.problems("bbh", leaves, "exact_match", "get-answer") == []


def test_metric_filter_and_direction_follow_each_task_definition():
    csqa = lm_eval_specs.read_task("commonsense_qa")
    # lm-eval's commonsense_qa lists only acc: asking it for acc_norm was the old bug.
    assert lm_eval_specs.default_metric("commonsense_qa", csqa) == "acc"
    hellaswag = lm_eval_specs.read_task("hellaswag")
    assert lm_eval_specs.default_metric("hellaswag", hellaswag) == "acc_norm"  # sentence completion
    gsm8k = lm_eval_specs.read_task("gsm8k")
    assert gsm8k["gsm8k"].filters == ("strict-match", "flexible-extract")
    wikitext = lm_eval_specs.read_task("wikitext")["wikitext"]
    assert wikitext.output_type == "loglikelihood_rolling"
    assert not wikitext.metric("word_perplexity").higher_is_better
    assert wikitext.metric("word_perplexity").pairs_by_item
    mmlu = lm_eval_specs.read_task("mmlu")
    assert len(mmlu) == 57 and all(leaf.metric("acc") for leaf in mmlu.values())


def test_a_corpus_level_metric_is_refused_with_the_per_item_ones_listed():
    ifeval = lm_eval_specs.read_task("ifeval")
    found = lm_eval_specs.problems("ifeval", ifeval, "inst_level_strict_acc", "none")
    assert len(found) == 1 and "aggregated over the whole corpus" in found[0]
    assert "prompt_level_strict_acc" in found[0]
    assert lm_eval_specs.default_metric("ifeval", ifeval) == "prompt_level_strict_acc"


def test_unknown_task_metric_and_filter_name_what_exists_with_a_did_you_mean():
    with pytest.raises(lm_eval_specs.UnknownTask, match="did you mean mmlu"):
        lm_eval_specs.read_task("mmluu")
    gsm8k = lm_eval_specs.read_task("gsm8k")
    (message,) = lm_eval_specs.problems("gsm8k", gsm8k, "exact_match", "strict")
    assert "strict-match, flexible-extract" in message and "did you mean strict-match" in message
    (message,) = lm_eval_specs.problems("gsm8k", gsm8k, "exact_macth", "strict-match")
    assert "did you mean exact_match" in message


def _config(tmp_path: Path, general: list) -> Path:
    data = tmp_path / "train.jsonl"
    data.write_text('{"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]}\n')
    path = tmp_path / "run.yml"
    path.write_text(yaml.safe_dump({"base_model": NO_MODEL, "datasets": [{"path": str(data), "type": "chatml"}],
                                    "benchmarks": {"general": general}}))
    return path


def test_validate_and_run_refuse_bbh_with_acc_before_any_model_loads(tmp_path, capsys):
    config = _config(tmp_path, [{"name": "bbh", "metric": "acc"}])
    assert main(["validate", str(config)]) == 2
    err = capsys.readouterr().err
    assert "does not log metric 'acc'" in err and "exact_match" in err
    assert main(["run", str(config), "--run-dir", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert "does not log metric 'acc'" in err and NO_MODEL not in err


def test_eval_refuses_a_filter_the_task_lacks_before_loading(capsys):
    assert main(["eval", "--model", NO_MODEL, "--task", "gsm8k", "--filter", "strict"]) == 2
    err = capsys.readouterr().err
    assert "no filter 'strict'" in err and "did you mean strict-match" in err


def test_the_8b_configs_validate_with_the_metrics_their_tasks_produce(capsys):
    for name in ("firefighter_lora_8b.yml", "full_ft_8b.yml", "qlora_8b.yml"):
        assert main(["validate", str(ROOT / "configs" / name)]) == 0, name
        out = capsys.readouterr().out
        if "[suite general]" in out:
            assert "mmlu (acc)" in out and "bbh (exact_match after get-answer)" in out
            assert "commonsense_qa (acc)" in out


def test_shared_benchmark_options_reach_every_benchmark_that_takes_them(tmp_path, capsys):
    config = _config(tmp_path, [{"name": "lm_eval", "task": "gsm8k"}, "bbh"])
    data = yaml.safe_load(config.read_text())
    data["benchmarks"]["options"] = {"filter": "flexible-extract"}
    config.write_text(yaml.safe_dump(data))
    # bbh has no flexible-extract filter: the shared option reached it, and is refused there.
    assert main(["validate", str(config)]) == 2
    assert "bbh: lm-eval task bbh" in capsys.readouterr().err
    data["benchmarks"]["options"] = {"no_such_option": 1}
    config.write_text(yaml.safe_dump(data))
    assert main(["validate", str(config)]) == 2
    assert "no benchmark of this run takes no_such_option" in capsys.readouterr().err


# ------------------------------------------------------------------- per-item scores


def test_each_output_type_gives_a_number_per_item():
    assert _item_score({"exact_match": 1}, "exact_match", "t") == (1.0, 0.0)
    assert _item_score({"acc": True}, "acc", "t") == (1.0, 0.0)
    # A perplexity's per-document value is (log-likelihood, words): its score is the NLL.
    assert _item_score({"word_perplexity": (-120.5, 40)}, "word_perplexity", "t") == (120.5, 40.0)
    assert _perplexity("word_perplexity", 120.5, 40.0) == pytest.approx(np.exp(120.5 / 40))
    assert _perplexity("bits_per_byte", 100.0, 50.0) == pytest.approx(2 / np.log(2))


# ------------------------------------------------------------------------ statistics


def test_lower_is_better_moments_test_the_relative_increase():
    rng = np.random.default_rng(0)
    base = rng.uniform(80, 120, 200)
    candidate = base * 1.03 + rng.normal(0, 2, 200)  # 3% worse (higher NLL)
    moments = sequential.Moments.of(base, candidate, higher_is_better=False)
    assert moments.graded
    assert moments.forgetting() == pytest.approx((candidate.mean() - base.mean()) / base.mean())
    low, high = moments.interval(1.96)
    assert low < 0.03 < high and high - low < 0.02
    # Decided pass at a 5% threshold, decided fail at 1%.
    assert sequential.decide(moments, 0.05, 1.96) == "pass"
    assert sequential.decide(moments, 0.01, 1.96) == "fail"


def test_graded_scores_get_no_binary_pseudo_items():
    base, candidate = [50.0] * 10 + [60.0] * 10, [51.0] * 10 + [61.0] * 10
    moments = sequential.Moments.of(base, candidate)
    assert moments.adjusted() == moments
    binary = sequential.Moments.of([1, 0, 1], [1, 1, 0])
    assert not binary.graded and binary.adjusted().n == 5


def test_graded_p_value_is_the_paired_t_test():
    from scipy.stats import ttest_rel

    rng = np.random.default_rng(1)
    a = rng.normal(0.5, 0.2, 40)
    b = a - 0.05 + rng.normal(0, 0.1, 40)
    assert paired_t_p(a, b) == pytest.approx(ttest_rel(b, a).pvalue)
    assert paired_t_p(a, a) == 1.0


def test_documents_out_of_reach_offline_name_the_dataset_and_the_setting(monkeypatch, tmp_path, capsys):
    # An empty datasets cache and no hub: lm-eval's own commonsense_qa cannot load its documents.
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "empty-cache"))
    assert main(["eval", "--model", NO_MODEL, "--task", "commonsense_qa"]) == 2
    err = capsys.readouterr().err
    assert "tau/commonsense_qa" in err and "HF_DATASETS_OFFLINE" in err and "include_path" in err
    assert "Traceback" not in err and NO_MODEL not in err
