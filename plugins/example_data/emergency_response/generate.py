#!/usr/bin/env python3
"""Build train.jsonl and benchmark.jsonl from facts.json, verify them, print a summary.

Standard library only and deterministic (fixed seed): running it twice gives
byte-identical files.

    python plugins/example_data/emergency_response/generate.py            # write + verify
    python plugins/example_data/emergency_response/generate.py --check    # files on disk current?
    python plugins/example_data/emergency_response/generate.py --out-dir /tmp/x
"""

from __future__ import annotations

import argparse
import collections
import json
import random
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

if __package__:
    from .facts import FACTS, SYSTEM_PROMPT, TOPICS, Fact
else:  # run as a script
    sys.path.insert(0, str(HERE))
    from facts import FACTS, SYSTEM_PROMPT, TOPICS, Fact  # type: ignore[no-redef]

SEED = 20240601
TRAIN_NAME = "train.jsonl"
BENCHMARK_NAME = "benchmark.jsonl"

MIN_TRAIN = 400
MIN_BENCHMARK = 150
MULTI_TURN_FRACTION = 0.125  # target share of multi-turn conversations (10-15 % allowed)
MULTI_TURN_RANGE = (0.10, 0.15)
MAX_GOLD_LONGEST_SHARE = 0.30  # how often the gold choice may be the strictly longest one
MAX_SIMILARITY = 0.60  # word-set Jaccard between a benchmark question and any train ask

# User-turn framings. None of them changes the meaning of the question.
USER_FRAMES = (
    "{q}",
    "{q}",
    "{q}",
    "{q}",
    "Quick question. {q}",
    "I'm a new volunteer. {q}",
    "Commander, a question: {q}",
    "{q} Keep it brief, please.",
    "We covered this in training but I want to be sure. {q}",
)
# Short openers in the commander's voice; most answers get none.
ANSWER_OPENERS = ("", "", "", "", "", "", "Listen carefully. ", "Right. ", "Good that you ask. ")
FOLLOW_UP_FRAMES = (
    "Follow-up: {q}",
    "Another one. {q}",
    "Understood. {q}",
    "Thank you. {q}",
    "And one more: {q}",
)


# ---------------------------------------------------------------------------
# building
# ---------------------------------------------------------------------------

def _conversation(turns: list[tuple[str, str]]) -> dict:
    messages = [{"role": "system", "content": SYSTEM_PROMPT}]
    for user, assistant in turns:
        messages.append({"role": "user", "content": user})
        messages.append({"role": "assistant", "content": assistant})
    return {"messages": messages}


def build_train(facts: list[Fact], rng: random.Random) -> list[dict]:
    single: list[dict] = []
    for fact in facts:
        for ask in fact.asks:
            user = rng.choice(USER_FRAMES).format(q=ask)
            answer = rng.choice(ANSWER_OPENERS) + fact.answer
            single.append(_conversation([(user, answer)]))

    # multi-turn: two facts from the same topic, the second asked as a follow-up
    n_multi = round(len(single) * MULTI_TURN_FRACTION / (1 - MULTI_TURN_FRACTION))
    by_topic: dict[str, list[Fact]] = collections.defaultdict(list)
    for fact in facts:
        by_topic[fact.topic].append(fact)
    topics = sorted(by_topic)
    multi: list[dict] = []
    seen_pairs: set[tuple[str, str, str, str]] = set()
    attempts = 0
    while len(multi) < n_multi:
        attempts += 1
        if attempts > 100 * n_multi:
            raise RuntimeError("could not build enough distinct multi-turn conversations")
        topic = topics[len(multi) % len(topics)]
        first, second = rng.sample(by_topic[topic], 2)
        ask1, ask2 = rng.choice(first.asks), rng.choice(second.asks)
        key = (first.id, ask1, second.id, ask2)
        if key in seen_pairs:
            continue
        seen_pairs.add(key)
        turns = [
            (rng.choice(USER_FRAMES).format(q=ask1), rng.choice(ANSWER_OPENERS) + first.answer),
            (rng.choice(FOLLOW_UP_FRAMES).format(q=ask2), second.answer),
        ]
        multi.append(_conversation(turns))

    rows = single + multi
    rng.shuffle(rows)
    return rows


def build_benchmark(facts: list[Fact], rng: random.Random) -> list[dict]:
    probes = [(fact, probe) for fact in facts for probe in fact.probes]
    # Gold positions: an exactly balanced multiset (counts differ by at most 1),
    # deterministically shuffled, so the correct index carries no signal.
    gold = [i % 4 for i in range(len(probes))]
    rng.shuffle(gold)
    rows = []
    for n, ((fact, probe), g) in enumerate(zip(probes, gold), start=1):
        wrong = list(probe.distractors)
        rng.shuffle(wrong)
        choices = wrong[:g] + [probe.correct] + wrong[g:]
        rows.append({
            "id": f"er-{n:04d}",
            "topic": fact.topic,
            "fact_id": fact.id,
            "question": probe.question,
            "choices": choices,
            "answer": g,
        })
    return rows


def dumps_jsonl(rows: list[dict]) -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)


# ---------------------------------------------------------------------------
# verification
# ---------------------------------------------------------------------------

def _norm(text: str) -> str:
    text = re.sub(r"[^\w\s%°]", " ", text.lower())
    return " ".join(text.split())


def _words(text: str) -> set[str]:
    return set(_norm(text).split())


def _sentences(text: str) -> int:
    return len(re.findall(r"[.!?](?:\s|$)", text.strip()))


def check_facts(facts: list[Fact]) -> list[str]:
    errors: list[str] = []
    ids = [f.id for f in facts]
    for dup in {i for i in ids if ids.count(i) > 1}:
        errors.append(f"duplicate fact id {dup}")
    all_asks: collections.Counter[str] = collections.Counter()
    prefixes: dict[str, str] = {}
    for f in facts:
        if f.topic not in TOPICS:
            errors.append(f"{f.id}: unknown topic {f.topic!r}")
        if not re.fullmatch(r"[a-z]{2}-\d{2}", f.id):
            errors.append(f"{f.id}: id must look like 'xx-00'")
        elif prefixes.setdefault(f.id[:2], f.topic) != f.topic:
            errors.append(f"{f.id}: id prefix {f.id[:2]!r} is used by another topic")
        if not 1 <= _sentences(f.answer) <= 4:
            errors.append(f"{f.id}: answer has {_sentences(f.answer)} sentences (want 1-4)")
        if len(f.asks) < 3:
            errors.append(f"{f.id}: needs at least 3 asks")
        if not f.probes:
            errors.append(f"{f.id}: needs at least 1 probe")
        for a in f.asks:
            all_asks[_norm(a)] += 1
        for p in f.probes:
            choices = [p.correct, *p.distractors]
            if len({_norm(c) for c in choices}) != 4 or any(not c.strip() for c in choices):
                errors.append(f"{f.id}: probe needs 4 distinct non-empty choices: {p.question!r}")
    for ask, n in all_asks.items():
        if n > 1:
            errors.append(f"ask used {n} times: {ask!r}")
    return errors


def verify(train_text: str, bench_text: str, facts: list[Fact]) -> tuple[list[str], dict]:
    """Check both files; return (errors, stats)."""
    errors = check_facts(facts)
    stats: dict = {}

    # -- train ------------------------------------------------------------
    train_lines = train_text.splitlines()
    if len(train_lines) != len(set(train_lines)):
        errors.append("train.jsonl has duplicate lines")
    train_users: list[str] = []
    multi = 0
    for i, line in enumerate(train_lines, 1):
        try:
            row = json.loads(line)
        except json.JSONDecodeError as e:
            errors.append(f"train line {i}: invalid JSON ({e})")
            continue
        msgs = row.get("messages")
        if not isinstance(msgs, list) or len(msgs) < 3:
            errors.append(f"train line {i}: needs system + user + assistant")
            continue
        roles = [m.get("role") for m in msgs]
        expected = ["system"] + ["user", "assistant"] * ((len(msgs) - 1) // 2)
        if roles != expected or (len(msgs) - 1) % 2:
            errors.append(f"train line {i}: bad role order {roles}")
        if roles[-1] != "assistant":
            errors.append(f"train line {i}: does not end with an assistant turn")
        for m in msgs:
            content = m.get("content")
            if set(m) != {"role", "content"} or not isinstance(content, str) or not content.strip():
                errors.append(f"train line {i}: empty or malformed message")
        train_users += [m["content"] for m in msgs if m.get("role") == "user"]
        if len(msgs) > 3:
            multi += 1
    n_train = len(train_lines)
    stats["train"] = n_train
    stats["multi_turn"] = multi
    if n_train < MIN_TRAIN:
        errors.append(f"train.jsonl has {n_train} conversations (< {MIN_TRAIN})")
    share = multi / n_train if n_train else 0.0
    stats["multi_turn_share"] = share
    if not MULTI_TURN_RANGE[0] <= share <= MULTI_TURN_RANGE[1]:
        errors.append(f"multi-turn share {share:.1%} outside {MULTI_TURN_RANGE}")

    # -- benchmark --------------------------------------------------------
    bench_lines = bench_text.splitlines()
    if len(bench_lines) != len(set(bench_lines)):
        errors.append("benchmark.jsonl has duplicate lines")
    fact_ids = {f.id: f for f in facts}
    rows = []
    for i, line in enumerate(bench_lines, 1):
        try:
            row = json.loads(line)
        except json.JSONDecodeError as e:
            errors.append(f"benchmark line {i}: invalid JSON ({e})")
            continue
        keys = {"id", "topic", "fact_id", "question", "choices", "answer"}
        if set(row) != keys:
            errors.append(f"benchmark line {i}: keys {sorted(row)} != {sorted(keys)}")
            continue
        ch = row["choices"]
        ok = isinstance(ch, list) and len(ch) == 4
        if not (ok and all(isinstance(c, str) and c.strip() for c in ch)):
            errors.append(f"benchmark {row['id']}: need 4 non-empty string choices")
        if not (isinstance(row["answer"], int) and 0 <= row["answer"] < 4):
            errors.append(f"benchmark {row['id']}: answer must be an int in 0..3")
        if row["fact_id"] not in fact_ids or fact_ids[row["fact_id"]].topic != row["topic"]:
            errors.append(f"benchmark {row['id']}: unknown fact_id/topic")
        rows.append(row)
    ids = [r["id"] for r in rows]
    if len(ids) != len(set(ids)):
        errors.append("benchmark ids are not unique")
    questions = [_norm(r["question"]) for r in rows]
    if len(questions) != len(set(questions)):
        errors.append("benchmark has duplicate question texts")
    stats["benchmark"] = len(rows)
    if len(rows) < MIN_BENCHMARK:
        errors.append(f"benchmark.jsonl has {len(rows)} questions (< {MIN_BENCHMARK})")

    # held-out wording: no benchmark question inside any train user turn, and no
    # training ask inside any benchmark question
    norm_users = [_norm(u) for u in train_users]
    norm_asks = {_norm(a) for f in facts for a in f.asks}
    for r, q in zip(rows, questions):
        if any(q in u for u in norm_users):
            errors.append(f"benchmark {r['id']}: question appears verbatim in train.jsonl")
        for a in norm_asks:
            if a in q:
                errors.append(f"benchmark {r['id']}: contains training ask {a!r}")
    # near-duplicates: word-set Jaccard against every train ask
    ask_words = [(_words(a), a) for f in facts for a in f.asks]
    worst = (0.0, "", "")
    for r in rows:
        qw = _words(r["question"])
        for aw, a in ask_words:
            j = len(qw & aw) / len(qw | aw)
            if j > worst[0]:
                worst = (j, r["id"], a)
    stats["max_similarity"] = worst
    if worst[0] > MAX_SIMILARITY:
        errors.append(
            f"benchmark {worst[1]} too similar ({worst[0]:.2f}) to train ask {worst[2]!r}"
        )

    # gold balance and length cues
    gold = collections.Counter(r["answer"] for r in rows)
    stats["gold"] = dict(sorted(gold.items()))
    if rows and max(gold.values()) - min(gold.get(i, 0) for i in range(4)) > 1:
        errors.append(f"gold index not balanced: {dict(gold)}")
    longest = shortest = 0
    for r in rows:
        lens = [len(c) for c in r["choices"]]
        g = lens[r["answer"]]
        others = lens[: r["answer"]] + lens[r["answer"] + 1:]
        longest += g > max(others)
        shortest += g < min(others)
    stats["gold_longest"] = longest
    stats["gold_shortest"] = shortest
    if rows and longest / len(rows) > MAX_GOLD_LONGEST_SHARE:
        errors.append(f"gold is the longest choice in {longest}/{len(rows)} questions")

    stats["topics_bench"] = dict(sorted(collections.Counter(r["topic"] for r in rows).items()))
    return errors, stats


# ---------------------------------------------------------------------------
# main
# ---------------------------------------------------------------------------

def build() -> tuple[str, str]:
    rng = random.Random(SEED)
    train = build_train(FACTS, rng)
    bench = build_benchmark(FACTS, rng)
    return dumps_jsonl(train), dumps_jsonl(bench)


def summary(stats: dict, facts: list[Fact]) -> str:
    per_topic_facts = collections.Counter(f.topic for f in facts)
    lines = [
        f"facts:               {len(facts)}",
        f"train conversations: {stats['train']} "
        f"(multi-turn {stats['multi_turn']}, {stats['multi_turn_share']:.1%})",
        f"benchmark questions: {stats['benchmark']}",
        f"gold index counts:   {stats['gold']}",
        f"gold longest/shortest choice: {stats['gold_longest']}/{stats['gold_shortest']} "
        f"of {stats['benchmark']}",
        "max question/ask word overlap: {:.2f} ({} vs {!r})".format(*stats["max_similarity"]),
        "per topic (facts / benchmark questions):",
    ]
    for topic in TOPICS:
        n_bench = stats["topics_bench"].get(topic, 0)
        lines.append(f"  {topic:<17} {per_topic_facts[topic]:>3} / {n_bench:>3}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--out-dir", type=Path, default=HERE,
                    help="where to write (default: next to this file)")
    ap.add_argument("--check", action="store_true",
                    help="do not write; fail if the files in --out-dir differ from a fresh build")
    args = ap.parse_args(argv)

    train_text, bench_text = build()
    train_path, bench_path = args.out_dir / TRAIN_NAME, args.out_dir / BENCHMARK_NAME

    if args.check:
        stale = [p.name for p, text in ((train_path, train_text), (bench_path, bench_text))
                 if not p.exists() or p.read_text(encoding="utf-8") != text]
        if stale:
            print(f"out of date: {', '.join(stale)}; rerun generate.py", file=sys.stderr)
            return 1
    else:
        args.out_dir.mkdir(parents=True, exist_ok=True)
        train_path.write_text(train_text, encoding="utf-8")
        bench_path.write_text(bench_text, encoding="utf-8")

    # verify what is on disk, not just what is in memory
    errors, stats = verify(train_path.read_text(encoding="utf-8"),
                           bench_path.read_text(encoding="utf-8"), FACTS)
    print(summary(stats, FACTS))
    if errors:
        print(f"\n{len(errors)} check(s) FAILED:", file=sys.stderr)
        for e in errors:
            print(f"  - {e}", file=sys.stderr)
        return 1
    print("\nall checks passed" + ("" if args.check else f"; wrote {train_path} and {bench_path}"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
