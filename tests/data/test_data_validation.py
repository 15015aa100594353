"""Reading data files: line-numbered rejection, skip-with-rejects, duplicates, lengths, split, sources."""

import json

import pytest

from harness import UsageError
from harness.data.examples import DataValidationError, load_examples, split_items, validation_split
from harness.data.lengths import check_lengths, histogram
from harness.data.sources import load_prompt_set, load_source, parse_hub_path, read_hub_records
from harness.testing import chat_records, write_jsonl


def good(i):
    return json.dumps({"messages": [{"role": "user", "content": f"Q{i}?"}, {"role": "assistant", "content": f"A{i}."}]})


BAD = {
    2: ('{"messages": [{"role": "user", "content": "unterminated"', "bad JSON"),
    4: ('{"messages": [{"role": "firefighter", "content": "hi"}, {"role": "assistant", "content": "yo"}]}',
        "unknown role 'firefighter'"),
    5: ('{"messages": [{"role": "user", "content": ""}, {"role": "assistant", "content": "yo"}]}', "empty content"),
    7: ('{"messages": [{"role": "user", "content": 42}, {"role": "assistant", "content": "yo"}]}',
        "content must be a string, got int"),
    8: ('{"messages": [{"role": "user", "content": "Is anyone there?"}]}', "does not end with an assistant turn"),
}


@pytest.fixture
def malformed_file(tmp_path):
    lines = [BAD[n][0] if n in BAD else good(n) for n in range(1, 11)]
    path = tmp_path / "raw.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_five_kinds_of_bad_lines_are_each_reported_with_their_line(harness_app, malformed_file):
    with pytest.raises(DataValidationError) as caught:
        load_examples(malformed_file, harness_app)
    problems = caught.value.problems
    assert [p.line for p in problems] == [2, 4, 5, 7, 8]
    for problem in problems:
        assert problem.origin == f"{malformed_file}:{problem.line}"
        assert BAD[problem.line][1] in problem.reason
    message = str(caught.value)
    assert "5 invalid records" in message and f"{malformed_file}:8: the conversation does not end" in message


def test_skip_keeps_the_rest_and_rejects_exactly_the_bad_lines(harness_app, malformed_file, tmp_path):
    rejects = tmp_path / "rejects.jsonl"
    loaded = load_examples(malformed_file, harness_app, on_error="skip", rejects_path=rejects)
    assert len(loaded.examples) == 5 and len(loaded.problems) == 5
    assert [e.origin.rsplit(":", 1)[1] for e in loaded.examples] == ["1", "3", "6", "9", "10"]
    assert rejects.read_text(encoding="utf-8").splitlines() == [BAD[n][0] for n in sorted(BAD)]


def test_the_error_message_shows_twenty_lines_and_counts_the_rest(harness_app, tmp_path):
    path = tmp_path / "many.jsonl"
    path.write_text("not json\n" * 27, encoding="utf-8")
    with pytest.raises(DataValidationError) as caught:
        load_examples(path, harness_app, type="chatml")
    message = str(caught.value)
    assert f"{path}:20: bad JSON" in message and f"{path}:21:" not in message
    assert "27 invalid records" in message and "... and 7 more" in message


def test_a_line_in_another_format_is_named_as_such(harness_app, tmp_path):
    path = tmp_path / "mixed.jsonl"
    path.write_text(good(1) + "\n" + good(2) + "\n" + json.dumps({"instruction": "a", "output": "b"}) + "\n")
    with pytest.raises(DataValidationError, match=r":3: missing key 'messages' \(this record looks like 'alpaca'"):
        load_examples(path, harness_app)


def test_format_is_detected_and_json_arrays_keep_line_numbers(harness_app, tmp_path):
    path = tmp_path / "raw.json"
    path.write_text('[\n  {"instruction": "a", "output": "b"},\n  {"instruction": "c",\n   "output": ""}\n]\n')
    with pytest.raises(DataValidationError) as caught:
        load_examples(path, harness_app)
    assert [str(p) for p in caught.value.problems] == [f"{path}:3: 'output' is empty"]
    loaded = load_examples(path, harness_app, on_error="skip")
    assert loaded.format == "alpaca" and len(loaded.examples) == 1
    assert loaded.rejects_path == tmp_path / "raw.rejects.jsonl"


def test_undetectable_format_names_the_keys_and_the_choices(harness_app, tmp_path):
    path = write_jsonl(tmp_path / "odd.jsonl", [{"prompt": "a", "completion": "b"}])
    with pytest.raises(UsageError, match=r"record keys: completion, prompt.*alpaca, chatml"):
        load_examples(path, harness_app)


def test_exact_duplicates_are_reported_not_dropped(harness_app, tmp_path):
    records = chat_records(4)
    path = write_jsonl(tmp_path / "dup.jsonl", records + [records[1], records[3], records[1]])
    loaded = load_examples(path, harness_app)
    assert len(loaded.examples) == 7
    assert loaded.duplicates == [(f"{path}:5", f"{path}:2"), (f"{path}:6", f"{path}:4"), (f"{path}:7", f"{path}:2")]


def test_over_long_examples_fail_truncate_or_drop_explicitly(harness_app, tiny_model_dir, tmp_path):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    records = chat_records(3) + [
        {"messages": [{"role": "user", "content": "fire " * 200}, {"role": "assistant", "content": "ok"}]},
        {"messages": [{"role": "user", "content": "Why?"}, {"role": "assistant", "content": "smoke " * 200}]},
    ]
    examples = load_examples(write_jsonl(tmp_path / "long.jsonl", records), harness_app).examples
    with pytest.raises(DataValidationError) as caught:
        check_lengths(examples, tokenizer, 64)
    assert [p.origin for p in caught.value.problems] == [examples[3].origin, examples[4].origin]
    assert "tokens > sequence_len 64" in caught.value.problems[0].reason
    kept, report = check_lengths(examples, tokenizer, 64, overflow="drop")
    assert kept == examples[:3] and len(report.over) == 2
    # Truncating the long question cuts away its whole answer: nothing left to learn, so it is listed and dropped.
    kept, report = check_lengths(examples, tokenizer, 64, overflow="truncate")
    assert kept == examples[:3] + [examples[4]] and report.emptied == [examples[3].origin]
    assert report.summary()["over_sequence_len"] == 2 and report.summary()["max"] > 200


def test_split_is_deterministic_by_seed_and_keeps_every_item_once():
    items = list(range(101))
    train, val = split_items(items, 0.9, seed=0)
    assert (len(train), len(val)) == (91, 10) and sorted(train + val) == items
    assert split_items(items, 0.9, seed=0) == (train, val)
    assert split_items(items, 0.9, seed=1) != (train, val)
    assert split_items([1, 2], 0.99, seed=0)[1]  # neither half empty
    assert validation_split(items, 0, seed=0) == (items, [])


def test_histogram_rows_cover_every_length():
    rows = histogram([126, 155, 155, 229, 261])
    assert sum(int(row.split()[1]) for row in rows) == 5 and rows[0].startswith("   120-")


def test_offline_prompt_sets_hold_questions_only():
    trivia = load_prompt_set("builtin:trivia_qa")
    nq = load_prompt_set("builtin:nq_open")
    assert len(trivia) > 7000 and len(nq) > 3500
    assert all(len(e.messages) == 1 and e.messages[0].role == "user" for e in trivia[:100] + nq[:100])
    assert nq[0].messages[0].content == "When was the last time anyone was on the moon?"
    with pytest.raises(UsageError, match="known: builtin:trivia_qa, builtin:nq_open"):
        load_prompt_set("builtin:mmlu")


def test_answered_prompt_sets_pair_questions_with_gold_answers():
    trivia = load_prompt_set("builtin:trivia_qa_answers")
    assert len(trivia) > 7000
    assert all([m.role for m in e.messages] == ["user", "assistant"] and e.messages[1].content for e in trivia)
    assert trivia[0].messages[1].content == "Sunset Boulevard"
    nq = load_prompt_set("builtin:nq_open_answers")
    assert nq[0].messages[1].content == "14 December 1972 UTC"


def test_hub_paths_parse_like_the_seed_writes_them():
    ref = parse_hub_path("hf://datasets/Open-Orca/OpenOrca")
    assert (ref.name, ref.config, ref.split, ref.limit) == ("Open-Orca/OpenOrca", None, "train", 10_000)
    ref = parse_hub_path("hf://datasets/org/set/cfg?split=validation&limit=50")
    assert (ref.name, ref.config, ref.split, ref.limit) == ("org/set", "cfg", "validation", 50)
    with pytest.raises(UsageError, match="unknown parameter"):
        parse_hub_path("hf://datasets/org/set?rows=5")


def test_hub_rows_go_through_the_same_validation(harness_app):
    rows = [{"system_prompt": "", "question": "2+2?", "response": "4"},
            {"system_prompt": "", "question": "", "response": "x"}]
    ref = parse_hub_path("hf://datasets/Open-Orca/OpenOrca?limit=5")
    records = read_hub_records(ref, load=lambda name, config, split, streaming: iter(rows))
    assert [r.line for r in records] == [1, 2]
    from harness.data.examples import parse_records

    with pytest.raises(DataValidationError, match=r"OpenOrca:row 2: 'question' is empty"):
        parse_records(records, harness_app, source="hf://datasets/Open-Orca/OpenOrca", label="row ")


def test_hub_source_offline_fails_with_a_clear_way_out(harness_app, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    with pytest.raises(UsageError, match=r"(?s)could not load hub data set 'Open-Orca/OpenOrca'.*offline\?.*builtin:trivia_qa"):
        load_source("hf://datasets/Open-Orca/OpenOrca?limit=10", harness_app, type="question_response")


def test_local_sources_resolve_against_the_config_folder(harness_app, tmp_path):
    write_jsonl(tmp_path / "data" / "general.jsonl", chat_records(5))
    source = load_source("data/general.jsonl", harness_app, base_dir=tmp_path, weight=0.3, max_samples=2)
    assert (source.name, len(source.examples), source.weight, source.max_samples) == ("data/general.jsonl", 5, 0.3, 2)
    assert len(source.sha256) == 64
