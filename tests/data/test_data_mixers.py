"""Mixers: the seed's ratio arithmetic, weights with caps, and self-rehearsal with its cache."""

import pytest

from harness import DataSource, Example, Message, MixContext, UsageError
from harness.data.sources import PROMPT_SETS


def examples(prefix, n):
    return [Example(messages=(Message("user", f"{prefix} question {i}?"), Message("assistant", f"{prefix} answer {i}.")),
                    origin=f"{prefix}.jsonl:{i + 1}") for i in range(n)]


def context(tmp_path, share=0.2, seed=0, loader=None):
    return MixContext(general_share=share, seed=seed, cache_dir=tmp_path, load_base_model=loader)


def mixer(harness_app, name, **options):
    cls = harness_app.mixer(name)
    return cls(cls.Options(**options))


def test_ratio_takes_the_seeds_625_of_2500_at_one_fifth(harness_app, tmp_path):
    domain = DataSource("domain", examples("fire", 2500))
    general = [DataSource("general", examples("general", 3000))]
    result = mixer(harness_app, "ratio").mix(domain, general, context(tmp_path, 0.2, seed=7))
    m = result.manifest
    assert (m["domain"], m["general"], m["total"], m["requested_general"]) == (2500, 625, 3125, 625)
    assert (m["domain_percent"], m["general_percent"]) == (80.0, 20.0)
    assert len(result.examples) == 3125 and len(set(result.examples)) == 3125  # without replacement
    assert set(examples("fire", 2500)) <= set(result.examples)
    again = mixer(harness_app, "ratio").mix(domain, general, context(tmp_path, 0.2, seed=7))
    assert again.examples == result.examples  # deterministic, order included
    other = mixer(harness_app, "ratio").mix(domain, general, context(tmp_path, 0.2, seed=8))
    assert other.examples != result.examples


def test_ratio_pools_sources_respects_caps_and_refuses_a_shortfall(harness_app, tmp_path):
    domain = DataSource("domain", examples("fire", 70))
    general = [DataSource("a", examples("a", 50), max_samples=10), DataSource("b", examples("b", 50))]
    m = mixer(harness_app, "ratio").mix(domain, general, context(tmp_path, 0.3)).manifest
    assert m["general"] == 30 and m["general_pool"] == 60 and m["general_by_source"]["a"] <= 10
    with pytest.raises(UsageError, match="needs 30 general examples but the general data holds only 20"):
        mixer(harness_app, "ratio").mix(domain, [DataSource("c", examples("c", 20))], context(tmp_path, 0.3))
    m = mixer(harness_app, "ratio", allow_shortfall=True).mix(
        domain, [DataSource("c", examples("c", 20))], context(tmp_path, 0.3)).manifest
    assert (m["requested_general"], m["general"], m["general_percent"]) == (30, 20, 22.22)


def test_ratio_refuses_prompt_only_sources(harness_app, tmp_path):
    prompts = DataSource("builtin:trivia_qa", [Example(messages=(Message("user", "Who?"),), origin="t:1")])
    with pytest.raises(UsageError, match="prompt sets go with the self_rehearsal mixer"):
        mixer(harness_app, "ratio").mix(DataSource("d", examples("d", 8)), [prompts], context(tmp_path))


def test_weighted_splits_the_general_share_by_weight_and_caps_at_max_samples(harness_app, tmp_path):
    domain = DataSource("domain", examples("fire", 1000))
    a, b = DataSource("a", examples("a", 400), weight=3), DataSource("b", examples("b", 400), weight=1)
    m = mixer(harness_app, "weighted").mix(domain, [a, b], context(tmp_path, 0.2)).manifest
    assert m["general_by_source"] == {"a": 188, "b": 62} and m["general"] == 250
    b.max_samples = 40
    result = mixer(harness_app, "weighted").mix(domain, [a, b], context(tmp_path, 0.2))
    m = result.manifest
    assert m["general_by_source"] == {"a": 188, "b": 40}
    assert m["capped"] == {"b": {"target": 62, "realised": 40, "by": "max_samples"}}
    assert len(result.examples) == 1228
    assert result.examples == mixer(harness_app, "weighted").mix(domain, [a, b], context(tmp_path, 0.2)).examples


def test_weighted_can_take_the_seeds_weights_as_written(harness_app, tmp_path):
    # The seed: domain 0.8, OpenOrca 0.15 (max 5000), guanaco 0.05 (max 2000).
    domain = DataSource("domain", examples("fire", 2500), weight=0.8)
    orca = DataSource("orca", examples("orca", 6000), weight=0.15, max_samples=5000)
    guanaco = DataSource("guanaco", examples("guanaco", 3000), weight=0.05, max_samples=2000)
    m = mixer(harness_app, "weighted", shares="weights").mix(domain, [orca, guanaco], context(tmp_path, 0.4)).manifest
    assert m["general_by_source"] == {"orca": 469, "guanaco": 156}  # 625 split 3:1
    assert (m["domain_percent"], m["requested_general_share"]) == (80.0, 0.2)


@pytest.fixture(scope="module")
def tiny_loaded(tmp_path_factory):
    from harness.models.loading import load_model
    from harness.testing import build_tiny_model

    # Untied embeddings: with tied ones a random model only echoes the prompt's last token ("\n").
    folder = build_tiny_model(tmp_path_factory.mktemp("tiny-untied"), tie_word_embeddings=False)
    return load_model(str(folder), device="cpu", dtype="float32")


def test_self_rehearsal_answers_offline_prompts_with_the_base_model_then_hits_the_cache(
        harness_app, tiny_loaded, tmp_path):
    loads = []

    def load_base_model():
        loads.append(1)
        return tiny_loaded

    domain = DataSource("domain", examples("fire", 12))
    options = dict(max_new_tokens=4, batch_size=4, keep_unfinished=True)  # a random model rarely says end-of-turn
    first = mixer(harness_app, "self_rehearsal", **options).mix(domain, [], context(tmp_path, 0.25, loader=load_base_model))
    m = first.manifest
    assert (m["general"], m["generated"], m["from_cache"]) == (4, 4, 0)
    assert m["prompt_sources"] == ["builtin:trivia_qa", "builtin:nq_open"] and m["prompt_pool"] > 11000
    rehearsal = [e for e in first.examples if e.origin.startswith("self_rehearsal:")]
    assert len(rehearsal) == 4
    for example in rehearsal:
        assert [msg.role for msg in example.messages] == ["user", "assistant"] and example.messages[1].content
    assert m["base_fingerprint"] == tiny_loaded.fingerprint
    assert (tmp_path / "self_rehearsal").is_dir() and m["cache_file"].startswith(str(tmp_path))

    second = mixer(harness_app, "self_rehearsal", **options).mix(domain, [], context(tmp_path, 0.25, loader=load_base_model))
    assert (second.manifest["generated"], second.manifest["from_cache"]) == (0, 4)
    assert second.examples == first.examples
    # Different generation settings are a different cache entry.
    third = mixer(harness_app, "self_rehearsal", **{**options, "max_new_tokens": 3}).mix(
        domain, [], context(tmp_path, 0.25, loader=load_base_model))
    assert third.manifest["generated"] == 4 and third.manifest["cache_file"] != m["cache_file"]


def test_self_rehearsal_takes_prompts_from_general_sources_and_drops_their_answers(harness_app, tiny_loaded, tmp_path):
    general = [DataSource("mine", examples("general", 6))]
    result = mixer(harness_app, "self_rehearsal", max_new_tokens=3, keep_unfinished=True).mix(
        DataSource("domain", examples("fire", 4)), general, context(tmp_path, 0.5, loader=lambda: tiny_loaded))
    rehearsal = [e for e in result.examples if e.origin == "self_rehearsal:mine"]
    assert len(rehearsal) == 4 and result.manifest["general_by_source"] == {"mine": 4}
    assert all(not e.messages[1].content.startswith("general answer") for e in rehearsal)


def test_self_rehearsal_refuses_to_train_on_cut_answers_by_default(harness_app, tiny_loaded, tmp_path):
    general = [DataSource("mine", examples("general", 40))]
    with pytest.raises(UsageError, match="cut at max_new_tokens=1; raise max_new_tokens or set keep_unfinished"):
        mixer(harness_app, "self_rehearsal", max_new_tokens=1, batch_size=8).mix(
            DataSource("domain", examples("fire", 40)), general, context(tmp_path, 0.5, loader=lambda: tiny_loaded))


def test_offline_prompt_sets_are_not_evaluation_benchmarks(harness_app):
    evaluated = " ".join(harness_app.catalogs["benchmark"].names()).lower()
    for name in PROMPT_SETS:
        assert name not in evaluated
