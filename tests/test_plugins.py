"""The plugin core: discovery through entry points, catalogs, clashes, blocking."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from harness import ComponentOptions, Trainer, UsageError
from harness.hookspecs import hookimpl
from harness.plugins import Catalog, load_harness

BUILTIN_ENTRY_POINTS = {"formatters", "mixers", "lora", "qlora", "full", "ewc", "lm_eval", "domain", "policies", "reports"}


def _installed(root: Path, module: str, source: str, distribution: str, version: str, entry: str) -> Path:
    """An installed third-party distribution with a ``harness`` entry point; returns its site folder.

    This is the layout ``pip install --target`` leaves: the module and a
    ``*.dist-info`` folder whose ``entry_points.txt`` names it.
    """
    site = root / "site"
    (site / module).mkdir(parents=True)
    (site / module / "__init__.py").write_text(textwrap.dedent(source))
    info = site / f"{module}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {distribution}\nVersion: {version}\n")
    (info / "entry_points.txt").write_text(f"[harness]\n{entry} = {module}\n")
    (info / "RECORD").write_text("")
    return site


def _third_party_site(root: Path) -> Path:
    return _installed(root, "acme_trainer", '''
        from harness.api import ComponentOptions, Trainer
        from harness.hookspecs import hookimpl

        class AcmeOptions(ComponentOptions):
            strength: float = 1.0

        class AcmeTrainer(Trainer):
            name = "acme"
            summary = "A third-party trainer used in tests."
            Options = AcmeOptions

            def train(self, request):  # never called: these tests list and validate it
                raise RuntimeError("acme does not train in tests")

        @hookimpl
        def harness_register_trainers(register):
            register(AcmeTrainer)
    ''', "acme-trainer", "1.2.3", "acme")


def _harness_cli(*args: str, site: Path | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    if site is not None:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(site), env.get("PYTHONPATH", "")]))
    return subprocess.run(
        [sys.executable, "-m", "harness.cli", *args], capture_output=True, text=True, env=env, timeout=120
    )


def test_builtins_load_through_entry_points(harness_app):
    names = {harness_app.pm.get_name(p) for p in harness_app.pm.get_plugins()}
    assert BUILTIN_ENTRY_POINTS <= names
    dists = {harness_app.pm.get_name(p): d.project_name for p, d in harness_app.pm.list_plugin_distinfo()}
    assert all(dists[n] == "forgetting-harness" for n in BUILTIN_ENTRY_POINTS)


@pytest.mark.slow
def test_third_party_package_is_listed_and_its_trainer_validates(tmp_path):
    site = _third_party_site(tmp_path)
    listing = _harness_cli("plugins", "--json", site=site)
    assert listing.returncode == 0, listing.stderr
    rows = {row["name"]: row for row in json.loads(listing.stdout)}
    assert rows["acme"]["distribution"] == "acme-trainer"
    assert rows["acme"]["version"] == "1.2.3"
    assert rows["acme"]["components"] == {"trainer": ["acme"]}
    assert rows["acme"]["hooks"] == ["harness_register_trainers"]

    config = tmp_path / "run.yml"
    config.write_text("base_model: smollm2-135m-instruct\ntrainer: {name: acme, strength: 2.5}\n")
    ok = _harness_cli("validate", str(config), site=site)
    assert ok.returncode == 0, ok.stderr
    assert "acme" in ok.stdout

    config.write_text("base_model: smollm2-135m-instruct\ntrainer: {name: acme, strenght: 2.5}\n")
    bad = _harness_cli("validate", str(config), site=site)
    assert bad.returncode == 2
    assert "trainer.strenght: unknown key; did you mean 'strength'?" in bad.stderr

    # Without the package on the path the same name is unknown, with a suggestion list.
    missing = _harness_cli("validate", str(config))
    assert missing.returncode == 2 and "unknown trainer 'acme'" in missing.stderr


def test_disable_blocks_a_plugin(tmp_path):
    site = _third_party_site(tmp_path)
    listing = _harness_cli("--disable", "acme", "plugins", "--json", site=site)
    rows = {row["name"]: row for row in json.loads(listing.stdout)}
    assert rows["acme"]["blocked"] is True and rows["acme"]["components"] == {}
    env_blocked = subprocess.run(
        [sys.executable, "-m", "harness.cli", "plugins", "--json"],
        capture_output=True, text=True, timeout=120,
        env={**os.environ, "PYTHONPATH": str(site), "HARNESS_DISABLE_PLUGINS": "acme"},
    )
    assert {r["name"]: r for r in json.loads(env_blocked.stdout)}["acme"]["blocked"] is True


class _Lora(Trainer):
    name = "lora"


class _Clash:
    @hookimpl
    def harness_register_trainers(self, register):
        register(_Lora)


def test_name_clash_names_both_plugins():
    with pytest.raises(UsageError) as error:
        load_harness(extra_plugins=[_Clash()])
    message = str(error.value)
    assert "registered twice" in message and "'lora'" in message
    assert "_Clash" in message  # the in-process plugin, named by pluggy


def test_unknown_name_suggests_the_closest(harness_app):
    with pytest.raises(UsageError, match=r"unknown trainer 'lroa'.*Did you mean 'lora'\?"):
        harness_app.trainer("lroa")


def test_catalog_rejects_non_components():
    class NotATrainer:
        name = "x"

    with pytest.raises(UsageError, match="not a subclass of harness.Trainer"):
        Catalog("trainer").add(NotATrainer, "p")  # type: ignore[arg-type]


def test_misspelt_hook_in_a_plugin_fails_loudly():
    class Typo:
        @hookimpl
        def harness_register_trainer(self, register):  # missing "s"
            pass

    with pytest.raises(Exception, match="harness_register_trainer"):
        load_harness(extra_plugins=[Typo()])


def test_component_options_reject_unknown_keys():
    class Opts(ComponentOptions):
        alpha: int = 1

    with pytest.raises(Exception, match="beta"):
        Opts.model_validate({"beta": 2})


@pytest.mark.slow
def test_a_plugin_written_to_an_earlier_surface_is_refused_at_load_with_one_line(tmp_path):
    """A benchmark with the old evaluate(model, *, limit, seed, batch_size) and no item_ids(): listed as
    refused with the reason, every other command still runs, and naming it says why (exit 2)."""
    site = _installed(tmp_path, "old_bench", '''
        from harness.api import Benchmark
        from harness.hookspecs import hookimpl

        class OldQuiz(Benchmark):
            name = "old_quiz"

            def definition_fingerprint(self):
                return "old-quiz-v1"

            def evaluate(self, model, *, limit, seed, batch_size):
                raise AssertionError("never reached")

        @hookimpl
        def harness_register_benchmarks(register):
            register(OldQuiz)
    ''', "old-bench", "0.1", "old")

    listing = _harness_cli("plugins", "--json", site=site)
    assert listing.returncode == 0, listing.stderr
    warnings = [line for line in listing.stderr.splitlines() if "old_quiz" in line]
    assert len(warnings) == 1 and "item_ids() is not implemented" in warnings[0]
    assert "evaluate() does not take items (harness calls evaluate(model, items, batch_size))" in warnings[0]
    rows = {row["name"]: row for row in json.loads(listing.stdout)}
    assert rows["old"]["components"] == {"benchmark (refused: see the warning)": ["old_quiz"]}

    config = tmp_path / "run.yml"
    config.write_text("base_model: smollm2-135m-instruct\nbenchmarks: {suite: null, general: [old_quiz]}\n")
    named = _harness_cli("validate", str(config), site=site)
    assert named.returncode == 2 and "does not fit harness.Benchmark" in named.stderr
