"""The evaluation engine on the tiny model: sampling, determinism, caching, adapters, commands."""

import copy
import hashlib
import json
from pathlib import Path

import pytest
import torch

from harness import LoadedModel, UsageError
from harness.cli import main
from harness.evaluation.scoring import ResultCache, evaluate, instantiate, load_eval_model, merge_adapter, sample_item_ids
from harness.hookspecs import hookimpl
from harness.models.loading import load_model, weights_fingerprint
from harness.plugins import load_harness
from harness.testing import write_jsonl
from harness_plugins.benchmarks.domain import DomainMcOptions, DomainMultipleChoice

WORDS = ["amber", "basalt", "cobalt", "dune", "ember", "fjord", "granite", "harbor",
         "indigo", "jasper", "kelp", "lichen", "mesa", "nickel", "onyx", "quartz"]


def mc_records(n=10):
    """Questions whose answers a tiny model can memorise in a few steps."""
    return [
        {"id": f"q{i}", "topic": "codes", "fact_id": f"f{i}",
         "question": f"What is the code word for station {i}?",
         "choices": [WORDS[(i + k) % len(WORDS)] for k in range(4)],
         "answer": (i * 3) % 4}
        for i in range(n)
    ]


@pytest.fixture(scope="module")
def questions(tmp_path_factory):
    return write_jsonl(tmp_path_factory.mktemp("mc") / "benchmark.jsonl", mc_records())


@pytest.fixture(scope="module")
def tiny(tiny_model_dir):
    return load_model(str(tiny_model_dir), dtype="float32")


def domain_mc(path):
    return DomainMultipleChoice(DomainMcOptions(path=str(path)))


def scores(results):
    return {name: [(i.item_id, i.score) for i in r.items] for name, r in results.items()}


def test_sampling_depends_on_ids_and_seed_only():
    ids = [f"id{i}" for i in range(100)]
    first = sample_item_ids(ids, 10, seed=3)
    assert first == sample_item_ids(list(reversed(ids)), 10, seed=3)  # order-independent
    assert first != sample_item_ids(ids, 10, seed=4)
    assert len(set(first)) == 10 and set(first) <= set(ids)
    assert sample_item_ids(ids, None, seed=3) == sample_item_ids(ids, 1000, seed=3)


def test_same_model_twice_gives_identical_numbers(tiny, questions, harness_app):
    benchmarks = [domain_mc(questions), *instantiate(harness_app, ["arc_easy"])]
    first = evaluate(tiny, benchmarks, limit=8, seed=5, batch_size=4, cache=False)
    again = evaluate(tiny, benchmarks, limit=8, seed=5, batch_size=4, cache=False)
    assert scores(first) == scores(again)
    assert all(r.n == 8 for r in first.values())


def test_batch_size_1_and_8_agree(tiny, questions, harness_app):
    benchmarks = [domain_mc(questions), *instantiate(harness_app, ["arc_easy"])]
    one = evaluate(tiny, benchmarks, limit=10, seed=1, batch_size=1, cache=False)
    eight = evaluate(tiny, benchmarks, limit=10, seed=1, batch_size=8, cache=False)
    for name in one:
        assert abs(one[name].score - eight[name].score) * 100 <= 0.5, name


def perturbed(model: LoadedModel, scale=0.5) -> LoadedModel:
    clone = copy.deepcopy(model.model)
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in clone.parameters():
            p.add_(torch.randn(p.shape, generator=generator) * scale * p.std())
    return LoadedModel(clone, model.tokenizer, "perturbed", "", model.device, model.dtype)


def test_cache_never_serves_model_a_results_for_model_b(tiny, questions, tmp_path):
    cache = ResultCache(tmp_path / "cache")
    bench = [domain_mc(questions)]
    a = evaluate(tiny, bench, limit=None, seed=0, batch_size=8, cache=cache)["domain_mc"]
    assert not a.extra.get("cached")
    assert evaluate(tiny, bench, limit=None, seed=0, batch_size=8, cache=cache)["domain_mc"].extra["cached"]

    model_b = perturbed(tiny)
    b = evaluate(model_b, bench, limit=None, seed=0, batch_size=8, cache=cache)["domain_mc"]
    fresh_b = evaluate(model_b, bench, limit=None, seed=0, batch_size=8, cache=False)["domain_mc"]
    assert not b.extra.get("cached")
    assert b.extra["weights"] != a.extra["weights"]
    assert [i.score for i in b.items] == [i.score for i in fresh_b.items]

    # A stale fingerprint on the record (weights changed in place after loading)
    # must not fool the cache either: the digest is recomputed at evaluation time.
    model_b.fingerprint = tiny.fingerprint
    again = evaluate(model_b, bench, limit=None, seed=0, batch_size=8, cache=cache)["domain_mc"]
    assert again.extra["weights"] == b.extra["weights"] != tiny.fingerprint

    # The cache is per item: a smaller sample of the same weights is served from it.
    other = evaluate(tiny, bench, limit=5, seed=0, batch_size=8, cache=cache)["domain_mc"]
    assert other.extra.get("cached") and other.n == 5
    assert [(i.item_id, i.score) for i in other.items] == [(i.item_id, i.score) for i in a.items if i.item_id in
                                                           {j.item_id for j in other.items}]


class CountingMc(DomainMultipleChoice):
    """domain_mc that counts the items it is asked to score."""

    name = "counting_mc"
    asked: list[str] = []

    def evaluate(self, model, *, items, batch_size):
        CountingMc.asked += list(items)
        return super().evaluate(model, items=items, batch_size=batch_size)


def test_extending_a_sample_scores_only_the_new_items_and_matches_scoring_all_at_once(tiny, questions, tmp_path):
    from harness.evaluation.scoring import Scorer, take_items

    bench = CountingMc(DomainMcOptions(path=str(questions)))
    CountingMc.asked = []
    scorer = Scorer(tiny, batch_size=4, cache=ResultCache(tmp_path / "cache"))
    first = scorer.score(bench, take_items(bench, 4, seed=0))
    grown = scorer.score(bench, take_items(bench, 10, seed=0))
    assert CountingMc.asked == take_items(bench, 10, seed=0)  # each item scored exactly once
    assert [i.item_id for i in grown.items][:4] == [i.item_id for i in first.items]  # a look extends the last
    all_at_once = Scorer(tiny, batch_size=4, cache=False).score(bench, take_items(bench, 10, seed=0))
    assert [(i.item_id, i.score) for i in grown.items] == [(i.item_id, i.score) for i in all_at_once.items]
    assert all(i.chance == 0.25 for i in grown.items)  # 4 choices each

    # A new scorer for the same weights (another round, another run) is served from disk.
    CountingMc.asked = []
    again = Scorer(tiny, batch_size=4, cache=ResultCache(tmp_path / "cache")).score(bench, take_items(bench, 10, seed=0))
    assert CountingMc.asked == [] and again.extra["cached"]


def test_a_cache_entry_from_other_weights_is_never_served(tiny, questions, tmp_path, caplog):
    from harness.evaluation.scoring import Scorer, take_items

    cache = ResultCache(tmp_path / "cache")
    bench = CountingMc(DomainMcOptions(path=str(questions)))
    ids = take_items(bench, 6, seed=0)
    Scorer(tiny, batch_size=4, cache=cache).score(bench, ids)
    # Hand-copy model A's entry to where model B's would live, as a stale or copied file would.
    model_b = perturbed(tiny)
    scorer_b = Scorer(model_b, batch_size=4, cache=cache)
    digest_a = next(cache.folder.rglob("*.json"))
    digest_b, _ = scorer_b._cache_key(bench)
    target = cache.folder / digest_b[:2] / f"{digest_b}.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(digest_a.read_text())
    CountingMc.asked = []
    with caplog.at_level("WARNING"):
        scorer_b.score(bench, ids)
    assert CountingMc.asked == ids  # scored afresh, not served
    assert "written for other weights" in caplog.text


def test_a_benchmark_with_fewer_items_than_asked_uses_all_and_says_so(questions, caplog):
    from harness.evaluation.scoring import take_items

    bench = domain_mc(questions)
    with caplog.at_level("WARNING"):
        ids = take_items(bench, 500, seed=0)
    assert len(ids) == 10
    assert "only 10 items, fewer than the 500 asked for; using all 10" in caplog.text


def test_domain_mc_reports_bad_lines_with_file_and_line(tmp_path):
    records = mc_records(3)
    records[1]["answer"] = 7
    path = write_jsonl(tmp_path / "bad.jsonl", records)
    with pytest.raises(UsageError, match=r"bad.jsonl:2: 'answer' must be an index"):
        domain_mc(path).questions()


def test_merged_adapter_scores_like_the_unmerged_one_and_leaves_inputs_untouched(tiny, questions, tmp_path):
    from peft import LoraConfig, get_peft_model

    peft_model = get_peft_model(copy.deepcopy(tiny.model), LoraConfig(
        r=4, lora_alpha=8, target_modules=["q_proj", "v_proj", "down_proj"], init_lora_weights=False))
    peft_model.save_pretrained(tmp_path / "adapter")
    saved = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in (tmp_path / "adapter").iterdir()}
    base_digest = weights_fingerprint(tiny.model)

    merged = merge_adapter(tiny, tmp_path / "adapter")
    unmerged = LoadedModel(peft_model, tiny.tokenizer, "unmerged", "", tiny.device, tiny.dtype)
    bench = [domain_mc(questions)]
    got = evaluate(merged, bench, limit=None, seed=0, batch_size=8, cache=False)["domain_mc"]
    want = evaluate(unmerged, bench, limit=None, seed=0, batch_size=8, cache=False)["domain_mc"]
    assert [i.score for i in got.items] == [i.score for i in want.items]
    assert weights_fingerprint(merged.model) != base_digest
    assert weights_fingerprint(tiny.model) == base_digest
    assert saved == {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in (tmp_path / "adapter").iterdir()}
    assert not any("lora" in name for name, _ in merged.model.named_parameters())


def test_domain_loss_is_lower_is_better(tiny, tmp_path, chat_file):
    from harness_plugins.benchmarks.domain import DomainLoss, DomainLossOptions

    benchmark = DomainLoss(DomainLossOptions(path=str(chat_file)))
    result = evaluate(tiny, [benchmark], limit=6, seed=0, batch_size=3, cache=False)["domain_loss"]
    assert result.n == 6 and result.metric == "loss" and benchmark.higher_is_better is False
    assert 5 < result.score < 20  # a random model over a ~49k vocabulary: about ln(49152) = 10.8
    assert result.extra["perplexity"] > 1


# ---------------------------------------------------------------- compare-models, end to end


def train_on_facts(model_dir: Path, questions: Path, target: Path) -> Path:
    """Full fine-tune of the tiny model on the facts, so it has something to forget."""
    from harness import Example, Message
    from harness.data.tokenize import IGNORE_INDEX, encode

    loaded = load_model(str(model_dir), dtype="float32")
    model, tokenizer = loaded.model, loaded.tokenizer
    encoded = [
        encode(Example(messages=(Message("user", r["question"]), Message("assistant", r["choices"][r["answer"]]))),
               tokenizer, max_length=64)
        for r in map(json.loads, questions.read_text().splitlines())
    ]
    width = max(len(e.input_ids) for e in encoded)
    ids = torch.tensor([e.input_ids + [tokenizer.pad_token_id] * (width - len(e.input_ids)) for e in encoded])
    labels = torch.tensor([e.labels + [IGNORE_INDEX] * (width - len(e.labels)) for e in encoded])
    torch.manual_seed(0)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    model.train()
    for _ in range(30):
        loss = model(input_ids=ids, labels=labels).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    model.eval()
    model.save_pretrained(target)
    tokenizer.save_pretrained(target)
    return target


@pytest.fixture(scope="module")
def facts_plugin(questions):
    """A third-party-style plugin: the facts file scored as a *general* benchmark."""

    class FactsAsGeneral(DomainMultipleChoice):
        name = "facts_general"
        role = "general"

        @property
        def path(self):
            return questions

    class Plugin:
        @hookimpl
        def harness_register_benchmarks(self, register):
            register(FactsAsGeneral)

        @hookimpl
        def harness_register_suites(self, register):
            register("facts", ["facts_general"])

    return Plugin()


@pytest.mark.slow
def test_compare_models_passes_against_itself_and_fails_against_a_damaged_copy(
    tiny_model_dir, questions, facts_plugin, tmp_path, monkeypatch, capsys
):
    monkeypatch.setenv("HARNESS_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr("harness.commands.compare_models.load_harness",
                        lambda disable=(): load_harness(disable, extra_plugins=[facts_plugin]))
    trained = train_on_facts(tiny_model_dir, questions, tmp_path / "trained")
    damaged_model = perturbed(load_model(str(trained), dtype="float32"), scale=3.0)
    damaged_model.model.save_pretrained(tmp_path / "damaged")
    damaged_model.tokenizer.save_pretrained(tmp_path / "damaged")
    common = ["--suite", "facts", "--limit", "0", "--dtype", "float32", "--bootstrap", "500", "--policy", "point"]

    report = tmp_path / "same.json"
    code = main(["compare-models", "--base", str(trained), "--candidate", str(trained), *common, "--json", str(report)])
    out = capsys.readouterr().out
    assert code == 0, out
    same = json.loads(report.read_text())["forgetting"][0]
    assert same["base"] > 0.8  # the facts were learned: there is something to forget
    assert same["relative"] == 0 and same["relative_ci"]["low"] <= 0 <= same["relative_ci"]["high"]
    assert same["difference_ci"]["low"] <= 0 <= same["difference_ci"]["high"] and same["p_value"] == 1
    assert "verdict: PASS" in out

    report = tmp_path / "damaged.json"
    code = main(["compare-models", "--base", str(trained), "--candidate", str(tmp_path / "damaged"), *common,
                 "--json", str(report)])
    out = capsys.readouterr().out
    assert code == 1, out
    saved = json.loads(report.read_text())
    drop = saved["forgetting"][0]
    assert drop["relative"] > 5 and drop["candidate"] < drop["base"]
    assert "verdict: FAIL" in out and "facts_general" in out
    # Where it forgot: the flipped items are exactly the base-right, candidate-wrong ones.
    flips = saved["breakdown"]["benchmarks"]["facts_general"]["flips"]
    lost = round(drop["n"] * (drop["base"] - drop["candidate"]))  # net: lost minus regained
    assert len(flips["right_to_wrong"]) - flips["wrong_to_right"] == lost > 0
    assert f"{len(flips['right_to_wrong'])} right -> wrong" in out

    # Sequential (the default) judges the benchmark's own forgetting: all 10 of its questions scored
    # is the exact value, a decided fail. Read as a sample of questions like these, 10 cannot call it.
    sequential = [c for c in common if c not in ("--policy", "point")]
    code = main(["compare-models", "--base", str(trained), "--candidate", str(tmp_path / "damaged"), *sequential,
                 "--json", str(report)])
    out = capsys.readouterr().out
    assert code == 1 and "verdict: FAIL" in out, out
    assert json.loads(report.read_text())["forgetting"][0]["ci_method"].startswith("exact")
    code = main(["compare-models", "--base", str(trained), "--candidate", str(tmp_path / "damaged"), *sequential,
                 "--population", "tasks_like_these"])
    out = capsys.readouterr().out
    assert code == 3, out
    assert "verdict: UNDECIDED" in out and "more items would likely decide it" in out
    # Base-assisted draws reach every question of so small a benchmark: exact again.
    code = main(["compare-models", "--base", str(trained), "--candidate", str(tmp_path / "damaged"), *sequential,
                 "--base-full"])
    assert code == 1, capsys.readouterr().out


def test_compare_models_bad_input_exits_2(tiny_model_dir, capsys):
    assert main(["compare-models", "--base", str(tiny_model_dir), "--suite", "general-small"]) == 2
    assert main(["compare-models", "--base", str(tiny_model_dir), "--candidate", str(tiny_model_dir),
                 "--suite", "no-such-suite"]) == 2
    assert "unknown suite" in capsys.readouterr().err


def test_eval_command_prints_scores_with_cis(tiny_model_dir, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("HARNESS_CACHE", str(tmp_path / "cache"))
    out_json = tmp_path / "eval.json"
    code = main(["eval", "--model", str(tiny_model_dir), "--benchmark", "arc_easy", "--limit", "8",
                 "--dtype", "float32", "--json", str(out_json)])
    out = capsys.readouterr().out
    assert code == 0, out
    row = json.loads(out_json.read_text())["results"][0]
    assert row["benchmark"] == "offline_arc_easy" and row["n"] == 8
    assert row["ci95"][0] <= row["score"] <= row["ci95"][1]
    assert "offline_arc_easy" in out and "95% CI" in out
