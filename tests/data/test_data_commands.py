"""``harness data format|split|inspect`` end to end through the real CLI."""

import json

from harness.cli import main
from harness.testing import chat_records, write_jsonl
from tests.data.test_data_validation import BAD, good

MULTI = {"messages": [{"role": "user", "content": "a?"}, {"role": "assistant", "content": "b."},
                      {"role": "user", "content": "c?"}, {"role": "assistant", "content": "d."}]}


def read_jsonl(path):
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_format_converts_a_json_array_from_alpaca_to_chatml(tmp_path, capsys):
    raw = tmp_path / "raw.json"
    raw.write_text(json.dumps([{"instruction": "You are a Greek fire commander. How do I...", "input": "",
                                "output": "First, you should..."}] * 2), encoding="utf-8")
    out = tmp_path / "formatted.jsonl"
    assert main(["data", "format", "--input", str(raw), "--output", str(out), "--format", "chatml"]) == 0
    assert read_jsonl(out)[0] == {"messages": [
        {"role": "user", "content": "You are a Greek fire commander. How do I..."},
        {"role": "assistant", "content": "First, you should..."}]}
    printed = capsys.readouterr().out
    assert "wrote 2 examples (alpaca -> chatml)" in printed and "1 exact duplicate(s)" in printed


def test_format_fails_on_five_bad_lines_and_skips_them_on_request(tmp_path, capsys):
    src = tmp_path / "raw.jsonl"
    src.write_text("\n".join(BAD[n][0] if n in BAD else good(n) for n in range(1, 11)) + "\n", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    assert main(["data", "format", "--input", str(src), "--output", str(out), "--format", "sharegpt"]) == 2
    err = capsys.readouterr().err
    assert "5 invalid records" in err and all(f"{src}:{n}:" in err for n in BAD)
    assert not out.exists()
    rejects = tmp_path / "bad.jsonl"
    assert main(["data", "format", "--input", str(src), "--output", str(out), "--format", "sharegpt",
                 "--on-error", "skip", "--rejects", str(rejects)]) == 0
    assert len(read_jsonl(out)) == 5 and "conversations" in read_jsonl(out)[0]
    assert rejects.read_text(encoding="utf-8").splitlines() == [BAD[n][0] for n in sorted(BAD)]
    assert f"skipped 5 bad line(s); written to {rejects}" in capsys.readouterr().out


def test_format_says_which_lines_alpaca_cannot_hold(tmp_path, capsys):
    src = write_jsonl(tmp_path / "chat.jsonl", chat_records(2) + [MULTI])
    out = tmp_path / "alpaca.jsonl"
    assert main(["data", "format", "--input", str(src), "--output", str(out), "--format", "alpaca"]) == 2
    assert f"{src}:3: cannot write as alpaca: alpaca holds one user turn" in capsys.readouterr().err
    assert main(["data", "format", "--input", str(src), "--output", str(out), "--format", "alpaca",
                 "--on-error", "skip"]) == 0
    assert len(read_jsonl(out)) == 2 and read_jsonl(tmp_path / "chat.rejects.jsonl") == [MULTI]


def test_split_writes_deterministic_halves_with_the_seeds_flags(tmp_path, capsys):
    src = write_jsonl(tmp_path / "formatted.jsonl", chat_records(50))
    args = ["data", "split", "--input", str(src), "--train_output", str(tmp_path / "train.jsonl"),
            "--val_output", str(tmp_path / "val.jsonl"), "--split_ratio", "0.9"]
    assert main(args) == 0
    train, val = read_jsonl(tmp_path / "train.jsonl"), read_jsonl(tmp_path / "val.jsonl")
    assert (len(train), len(val)) == (45, 5)
    assert sorted(map(json.dumps, train + val)) == sorted(map(json.dumps, chat_records(50)))
    assert main(args + ["--seed", "0"]) == 0 and read_jsonl(tmp_path / "val.jsonl") == val
    assert main(args + ["--seed", "3"]) == 0 and read_jsonl(tmp_path / "val.jsonl") != val
    assert "50 examples (chatml) -> train 45" in capsys.readouterr().out


def test_inspect_counts_lengths_and_duplicates_with_the_models_tokenizer(tmp_path, tiny_model_dir, capsys):
    records = chat_records(6) + [chat_records(6)[2], MULTI]
    src = write_jsonl(tmp_path / "data.jsonl", records)
    assert main(["data", "inspect", str(src), "--model", str(tiny_model_dir), "--sequence-len", "30"]) == 0
    out = capsys.readouterr().out
    assert "format             : chatml (detected)" in out and "valid              : 8" in out
    assert "user turns         : 1: 7, 2: 1" in out and f"{src}:7 repeats {src}:3" in out
    assert "token-length histogram:" in out and "over sequence_len 30" in out
    assert main(["data", "inspect", str(src), "--model", str(tiny_model_dir), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["duplicates"] == 1 and summary["tokens"]["examples"] == 8
    assert summary["tokens"]["min"] > 20 and summary["tokens"]["max"] >= summary["tokens"]["median"]


def test_inspect_lists_invalid_lines_and_exits_1(tmp_path, capsys):
    src = tmp_path / "raw.jsonl"
    src.write_text(good(1) + "\n" + BAD[8][0] + "\n", encoding="utf-8")
    assert main(["data", "inspect", str(src), "--no-tokens"]) == 1
    assert f"invalid: {src}:2: the conversation does not end with an assistant turn" in capsys.readouterr().out
