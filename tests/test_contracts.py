"""Where core and plugins meet: contracts that used to drift and give wrong numbers without a word."""

from __future__ import annotations

import json
import re
import shutil
import typing
from pathlib import Path

import pytest
import torch
import yaml
from pydantic import BaseModel

from harness import Benchmark, BenchmarkResult, ItemScore, LoadedModel, UsageError
from harness.cli import main
from harness.config import RunConfig
from harness.evaluation.scoring import Scorer
from harness.evaluation.judging import JudgeSettings, judge
from harness.plugins import load_harness
from harness.testing import chat_records, write_jsonl

ROOT = Path(__file__).resolve().parents[1]


# ------------------------------------------------------------------- direction of a metric


class Loss(Benchmark):
    """A lower-is-better domain benchmark whose per-item losses each model carries."""

    name = "toy_loss"
    role = "domain"
    higher_is_better = False

    def definition_fingerprint(self):
        return "toy-loss"

    def item_ids(self):
        return [str(i) for i in range(60)]

    def evaluate(self, model, *, items, batch_size):
        return BenchmarkResult(self.name, "loss", [ItemScore(i, model.model.loss + 0.01 * int(i)) for i in items])


def _model(loss: float) -> LoadedModel:
    module = torch.nn.Linear(1, 1)
    torch.nn.init.constant_(module.weight, loss)
    module.loss = loss
    return LoadedModel(module, None, f"loss{loss}", "", "cpu", "float32")


def test_a_lower_domain_loss_is_a_gain():
    from harness_plugins.benchmarks.domain import DomainLoss

    assert DomainLoss.higher_is_better is False  # declared on the class, read from there
    base, tuned = (Scorer(_model(loss), batch_size=1, cache=False) for loss in (2.0, 1.0))
    (gain,) = judge(base, tuned, [], [Loss()], JudgeSettings()).gain.values()
    assert gain.relative < 0 and gain.status == "gain"  # negative forgetting = the candidate got better


# ------------------------------------------------------------ identity of a generic benchmark


def run_config(tmp_path: Path, **overrides) -> Path:
    write_jsonl(tmp_path / "domain.jsonl", chat_records(30))
    config = {"base_model": "smollm2-135m-instruct", "datasets": [{"path": "domain.jsonl"}], **overrides}
    path = tmp_path / "run.yml"
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.mark.slow
def test_two_lm_eval_tasks_in_one_run_do_not_collide_and_true_duplicates_exit_2(tmp_path, capsys):
    from harness.resolve.config_file import load_config
    from harness.resolve.components import build_components

    harness = load_harness()
    two = [{"name": "lm_eval", "task": "arc_easy"}, {"name": "lm_eval", "task": "piqa"},
           {"name": "lm_eval", "task": "piqa", "num_fewshot": 5}]
    config = load_config(run_config(tmp_path, benchmarks={"suite": None, "general": two}), harness)
    names = [b.name for b in build_components(config, harness).general]
    assert names == ["lm_eval:arc_easy", "lm_eval:piqa", "lm_eval:piqa@5shot"]

    twice = run_config(tmp_path, benchmarks={"suite": None, "general": [two[1], dict(two[1])]})
    assert main(["validate", str(twice)]) == 2
    assert "'lm_eval:piqa' is listed twice" in capsys.readouterr().err


# ------------------------------------------------------------------- tokenizer settings


def test_special_tokens_reach_the_tokenizer_and_new_ones_grow_the_embeddings(tiny_model_dir):
    from harness.models.loading import TokenizerSetup, load_model

    plain = load_model(str(tiny_model_dir), dtype="float32", fingerprint=False)
    existing = load_model(str(tiny_model_dir), dtype="float32", fingerprint=False,
                          setup=TokenizerSetup(special_tokens=(("pad_token", "<|im_end|>"),)))
    assert existing.tokenizer.pad_token == "<|im_end|>"
    assert len(existing.tokenizer) == len(plain.tokenizer)  # an existing token only changes its role
    added = load_model(str(tiny_model_dir), dtype="float32", fingerprint=False,
                       setup=TokenizerSetup(special_tokens=(("pad_token", "<|harness_pad|>"),)))
    assert added.tokenizer.pad_token == "<|harness_pad|>" and len(added.tokenizer) == len(plain.tokenizer) + 1
    assert added.model.get_input_embeddings().num_embeddings >= len(added.tokenizer)


def test_lora_trains_the_embeddings_when_a_special_token_is_added(tiny_model_dir, tmp_path):
    from harness.training import attach_lora, load_for_training

    config = RunConfig(base_model=str(tiny_model_dir), special_tokens={"pad_token": "<|harness_pad|>"}, lora_r=2)
    model, tokenizer = load_for_training(config, frozen=True)
    assert model.get_input_embeddings().num_embeddings >= len(tokenizer)
    peft_model = attach_lora(model, config)
    trainable = {n for n, p in peft_model.named_parameters() if p.requires_grad}
    assert any("embed_tokens" in n for n in trainable) and any("lm_head" in n for n in trainable)


def test_model_type_and_tokenizer_type_are_honoured_or_refused(tiny_model_dir, tmp_path, capsys):
    from harness.models.loading import TokenizerSetup, load_model

    loaded = load_model(str(tiny_model_dir), dtype="float32", fingerprint=False, model_type="LlamaForCausalLM",
                        setup=TokenizerSetup(tokenizer_type="PreTrainedTokenizerFast"))
    assert type(loaded.model).__name__ == "LlamaForCausalLM"
    import transformers

    assert isinstance(loaded.tokenizer, transformers.PreTrainedTokenizerFast)
    with pytest.raises(UsageError, match="model_type: transformers has no class 'NoSuchForCausalLM'"):
        load_model(str(tiny_model_dir), model_type="NoSuchForCausalLM")
    bad = run_config(tmp_path, model_type="LlamaModel")
    assert main(["validate", str(bad)]) == 2
    assert "model_type" in capsys.readouterr().err


@pytest.fixture
def no_template_model(tiny_model_dir, tmp_path):
    """The tiny model as a *base* model: its tokenizer has no chat template."""
    from transformers import AutoTokenizer

    folder = tmp_path / "base-model"
    shutil.copytree(tiny_model_dir, folder)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    tokenizer.chat_template = None
    for leftover in folder.glob("chat_template*"):
        leftover.unlink()
    tokenizer.save_pretrained(folder)
    assert AutoTokenizer.from_pretrained(folder).chat_template is None
    return folder


def test_a_base_model_without_a_template_trains_on_chat_data_with_chat_template_chatml(no_template_model, tmp_path,
                                                                                        capsys):
    settings = dict(base_model=str(no_template_model), dtype="float32", adapter="lora", lora_r=2, lora_alpha=4,
                    max_steps=2, micro_batch_size=2, gradient_accumulation_steps=1, sequence_len=64,
                    val_set_size=0.0, output_dir=str(tmp_path / "out"))
    without = run_config(tmp_path, **settings)
    assert main(["train", str(without)]) == 2
    err = capsys.readouterr().err
    assert "has no chat template" in err and "chat_template:" in err
    assert not (tmp_path / "out").exists()  # stopped before loading weights or writing anything

    with_template = run_config(tmp_path, **settings, chat_template="chatml")
    assert main(["train", str(with_template)]) == 0
    out = tmp_path / "out"
    assert (out / "adapter" / "adapter_config.json").is_file() or any(out.rglob("adapter_config.json"))
    saved = next(out.rglob("tokenizer_config.json"))
    assert "<|im_start|>" in (saved.parent / "chat_template.jinja").read_text() if (
        saved.parent / "chat_template.jinja").is_file() else "<|im_start|>" in saved.read_text()


def test_named_chat_templates_are_prefix_stable(tiny_model_dir):
    from transformers import AutoTokenizer

    from harness.data.chat_templates import TEMPLATES

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi?"},
                {"role": "assistant", "content": "Hello."}, {"role": "user", "content": "Bye?"},
                {"role": "assistant", "content": "Bye."}]
    for name, template in TEMPLATES.items():
        tokenizer.chat_template = template
        full = tokenizer.apply_chat_template(messages, tokenize=False)
        for k in range(1, len(messages)):
            assert full.startswith(tokenizer.apply_chat_template(messages[:k], tokenize=False)), name


# ------------------------------------------------------------------------- reporters


def test_run_renders_only_the_configured_reporters(tmp_path):
    from harness.loop.reporting import render_reports

    (tmp_path / "run").mkdir()
    folder = tmp_path / "run"
    (folder / "config.yml").write_text(yaml.safe_dump({"reporters": [{"name": "markdown"}]}))
    verdict = {"schema": "harness.verdict/1", "passed": True, "status": "pass", "threshold": 5.0,
               "policy": "sequential", "chosen_round": 1, "reason": "r", "base_model": "m", "trainer": "lora",
               "rounds": [{"round": 1, "general_share": 0.2, "learning_rate": 1e-4, "passed": True, "status": "pass",
                           "worst_forgetting": 0.0, "domain_score": 0.5, "forgetting": {}, "gain": {}}]}
    (folder / "verdict.json").write_text(json.dumps(verdict))
    written = render_reports(load_harness(), folder)
    assert [p.name for p in written] == ["report.md"]


# --------------------------------------------------------------- every config key is read


def _fields(model: type[BaseModel], prefix: str = ""):
    for name, field in model.model_fields.items():
        yield prefix + name, name
        for arg in [field.annotation, *typing.get_args(field.annotation)]:
            for inner in [arg, *typing.get_args(arg)]:
                if isinstance(inner, type) and issubclass(inner, BaseModel):
                    yield from _fields(inner, f"{prefix}{name}.")


def test_no_config_key_is_accepted_and_ignored():
    """Every field of the run config is read somewhere outside the config module itself."""
    sources = [p for folder in ("harness", "plugins") for p in (ROOT / folder).rglob("*.py") if p.name != "config.py"]
    text = "\n".join(p.read_text(encoding="utf-8") for p in sources)
    unread = [path for path, name in _fields(RunConfig) if not re.search(rf"\.{name}\b|[\"']{name}[\"']", text)]
    assert not unread, f"config keys accepted but never read: {unread}"


# ------------------------------------------------------------------------- the CLI


def test_validate_accepts_compare_configs(capsys):
    assert main(["validate", str(ROOT / "configs" / "compare_strategies.yml")]) == 0
    assert "OK: no_mitigation" in capsys.readouterr().out


def test_eval_takes_lm_eval_task_names_like_the_lm_eval_cli(tiny_model_dir, tmp_path, monkeypatch, capsys):
    from harness_plugins.benchmarks.offline_suite import materialize_tasks

    monkeypatch.setenv("HARNESS_CACHE", str(tmp_path / "cache"))
    out_json = tmp_path / "eval.json"
    code = main(["eval", "--model", str(tiny_model_dir), "--task", "offline_arc_easy", "--task", "offline_piqa",
                 "--include-path", str(materialize_tasks()), "--num-fewshot", "0", "--limit", "4",
                 "--dtype", "float32", "--json", str(out_json)])
    assert code == 0, capsys.readouterr()
    rows = json.loads(out_json.read_text())["results"]
    assert [r["benchmark"] for r in rows] == ["lm_eval:offline_arc_easy@0shot", "lm_eval:offline_piqa@0shot"]
    assert all(r["n"] == 4 for r in rows)
    assert main(["eval", "--model", str(tiny_model_dir), "--task", "no_such_task_xyz"]) == 2
    assert "unknown lm-eval task" in capsys.readouterr().err


# ------------------------------------------------------------------ the plugin surface

PUBLIC_MODULES = {"harness", "harness.helpers", "harness.scoring", "harness.hookspecs", "harness.training", "harness.testing"}


def _imports(path: Path) -> set[str]:
    import ast

    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def _unit(module: str) -> str | None:
    """The part of the core a module belongs to: a subpackage (harness.loop) or a top-level module."""
    parts = module.split(".")
    if parts[0] != "harness" or len(parts) == 1:
        return None  # harness/__init__.py only hands the plugin surface on
    return ".".join(parts[:2])


def test_the_core_has_no_import_circles():
    """Between the core's parts (each subpackage one part, each top-level module one), every import
    runs one way, deferred and annotation-only imports included: a circle is what makes a module
    impossible to read, test or move on its own."""
    import graphlib

    graph: dict[str, set[str]] = {}
    for path in (ROOT / "harness").rglob("*.py"):
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        unit = _unit(module)
        if unit is None:
            continue
        targets = {_unit(m) for m in _imports(path)} | {
            _unit(f"harness.{name}") for name in _names_from_harness(path)}
        graph.setdefault(unit, set()).update(t for t in targets if t and t != unit)
    try:
        order = list(graphlib.TopologicalSorter(graph).static_order())
    except graphlib.CycleError as error:
        pytest.fail(f"import circle between the core's parts: {' -> '.join(error.args[1])}")
    assert order.index("harness.records") < order.index("harness.components") < order.index("harness.plugins")


def _names_from_harness(path: Path) -> set[str]:
    """``from harness import loop`` names a part too."""
    import ast

    return {alias.name for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
            if isinstance(node, ast.ImportFrom) and node.module == "harness" and node.level == 0
            for alias in node.names if (ROOT / "harness" / alias.name).exists()
            or (ROOT / "harness" / f"{alias.name}.py").exists()}


def test_plugins_import_only_the_public_surface():
    offenders = {
        f"{path.relative_to(ROOT)}: {module}"
        for path in (ROOT / "plugins").rglob("*.py")
        for module in _imports(path)
        if module.split(".")[0] == "harness" and module not in PUBLIC_MODULES
    }
    assert not offenders, "plugins reaching past harness.api / hookspecs / training / testing:\n" + "\n".join(
        sorted(offenders))


def test_core_never_imports_plugins():
    offenders = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "harness").rglob("*.py")
                       if any(m.split(".")[0] == "plugins" for m in _imports(p)))
    assert not offenders, f"core modules importing the built-in plugins: {offenders}"


def test_every_hook_is_documented():
    import inspect

    import harness.hookspecs as specs

    hooks = [name for name, fn in inspect.getmembers(specs, inspect.isfunction) if name.startswith("harness_")]
    docs = "\n".join(path.read_text(encoding="utf-8") for path in _doc_pages())  # README.md and docs/*.md
    assert hooks
    for name in hooks:
        assert (getattr(specs, name).__doc__ or "").strip(), f"{name} has no docstring"
        short = name.removeprefix("harness_register")
        assert name in docs or (short and f"`{short}`" in docs), f"{name} is not in README.md or docs/"


def _doc_pages() -> list[Path]:
    """The pages a person reads: README.md and every Markdown page under docs/."""
    return [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def test_every_code_block_in_the_docs_closes_on_its_own_line():
    """A closing fence with text after it is no fence on GitHub: the rest of the page renders as code."""
    for page in _doc_pages():
        name = page.relative_to(ROOT)
        inside = False
        for number, line in enumerate(page.read_text(encoding="utf-8").splitlines(), 1):
            if line.startswith("```"):
                info = line[3:].strip()
                assert not inside or not info, f"{name}:{number}: a closing fence must stand alone: {line!r}"
                assert inside or " " not in info, f"{name}:{number}: an opening fence names one language: {line!r}"
                inside = not inside
        assert not inside, f"{name} ends inside a code block"


def test_every_command_s_help_ends_with_its_exit_codes_and_an_example_that_parses():
    import shlex

    from harness.cli import build_parser
    from harness.commands.help_text import EXAMPLES

    parser = build_parser()
    commands = parser._subparsers._group_actions[0].choices
    assert set(EXAMPLES) == set(commands)
    for name, command in commands.items():
        text = command.format_help()
        assert "exit codes:" in text and "2 bad input" in text and text.rstrip().endswith(EXAMPLES[name]), name
        args = parser.parse_args(shlex.split(EXAMPLES[name])[1:])  # argparse exits on an unknown flag
        assert args.command == name
    assert "3 undecided" in commands["gate"].format_help()


def test_the_earlier_surface_still_serves_every_name_it_had():
    """A plugin written against ``harness.api`` keeps loading: each record, base and helper it could
    import from there is the very object the new surface (harness, harness.helpers, harness.scoring) has."""
    import harness
    import harness.api as api
    import harness.helpers
    import harness.scoring

    for module in (harness.helpers, harness.scoring):
        for name in module.__all__:
            assert getattr(api, name) is getattr(module, name), name
    for name in harness.__all__:
        if name not in ("PLUGIN_SURFACE_VERSION", "__version__", "hookimpl"):
            assert getattr(api, name) is getattr(harness, name), name


def test_every_package_folder_is_listed_for_installation():
    """pyproject lists packages by hand (plugins/ installs as harness_plugins): none may be missed."""
    import tomllib

    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    on_disk = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "harness").rglob("__init__.py")}
    on_disk |= {".".join(("harness_plugins", *p.parent.relative_to(ROOT / "plugins").parts))
                for p in (ROOT / "plugins").rglob("__init__.py")}
    assert on_disk <= listed, f"missing from pyproject [tool.setuptools] packages: {sorted(on_disk - listed)}"


def test_domain_loss_needs_its_held_out_file_named(tmp_path, capsys):
    config = run_config(tmp_path, benchmarks={"suite": None, "domain": ["domain_loss"]})
    assert main(["validate", str(config)]) == 2
    assert "benchmarks.domain[0].path" in capsys.readouterr().err
