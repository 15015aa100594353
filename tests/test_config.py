"""Run config validation: the seed's config as written, and errors a user can act on."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from harness.config_issues import ConfigError
from harness.resolve.config_file import load_config, parse_config

ROOT = Path(__file__).resolve().parents[1]
SEED_CONFIG = ROOT / "configs" / "firefighter_lora_7b.yml"


def _validate(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "harness.cli", "validate", str(path)], capture_output=True, text=True, timeout=120
    )


def test_seed_config_validates_unchanged(harness_app):
    config = load_config(SEED_CONFIG, harness_app)
    assert config.base_model == "meta-llama/Meta-Llama-3.1-8B-Instruct"
    assert config.trainer.name == "lora"  # from the seed's ``adapter: lora``
    assert config.learning_rate == pytest.approx(2e-4)  # YAML reads 2e-4 as a string; we coerce
    assert config.lora_target_modules[-1] == "down_proj"
    assert config.special_tokens == {"pad_token": "<|end_of_text|>"}


@pytest.mark.slow
def test_validate_cli_prints_ok_and_components():
    result = _validate(SEED_CONFIG)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("OK")
    assert "trainer    : lora" in result.stdout


@pytest.mark.parametrize(
    "yaml_text, expected",
    [
        ("base_model: m\nlearnin_rate: 1e-4\n", "learnin_rate: unknown key; did you mean 'learning_rate'?"),
        ("base_model: m\nnum_epochs: three\n", "num_epochs: Input should be a valid number"),
        ("base_model: m\ntrainer: lroa\n", "trainer: unknown trainer 'lroa'"),
        ("base_model: m\nlr_scheduler: cosin\n", "did you mean 'cosine'?"),
        ("base_model: m\nforgetting: {threshold: -1}\n", "forgetting.threshold: Input should be greater than 0"),
        ("base_model: m\nbenchmarks: {suite: general-smal}\n", "Did you mean 'general-small'?"),
        ("base_model: m\ndatasets: [{path: a.jsonl, type: chatlm}]\n", "datasets[0].type: unknown formatter 'chatlm'"),
    ],
)
def test_invalid_configs_exit_2_naming_key_and_fix(tmp_path, yaml_text, expected):
    path = tmp_path / "bad.yml"
    path.write_text(yaml_text)
    result = _validate(path)
    assert result.returncode == 2
    assert expected in result.stderr


def test_every_problem_is_reported_at_once(harness_app):
    with pytest.raises(ConfigError) as error:
        parse_config({"base_model": "m", "lora_rr": 4, "micro_batch_size": 0, "adapter": "x"}, harness_app)
    paths = sorted(issue.path for issue in error.value.issues)
    assert paths == ["adapter", "lora_rr", "micro_batch_size"]


def test_yaml_syntax_error_names_the_line(tmp_path, harness_app):
    path = tmp_path / "broken.yml"
    path.write_text("base_model: m\ndatasets: [\n  - path: x\n")
    with pytest.raises(Exception, match=r"broken.yml:\d+:\d+: not valid YAML"):
        load_config(path, harness_app)


@pytest.mark.slow
def test_validation_loads_no_model(tmp_path):
    # A base model that cannot exist must not matter to validation.
    path = tmp_path / "ok.yml"
    path.write_text("base_model: nobody/no-such-model\n")
    code = (
        "import sys; from harness.cli import main; rc = main(['validate', sys.argv[1]]);"
        "assert 'torch' not in sys.modules, 'validate imported torch'; sys.exit(rc)"
    )
    result = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


def test_seed_callbacks_become_early_stopping(harness_app):
    config = parse_config(
        {"base_model": "m", "callbacks": [{"type": "early_stopping", "patience": 2, "threshold": 0.05}]}, harness_app
    )
    assert (config.early_stopping.patience, config.early_stopping.threshold) == (2, 0.05)


def test_trainer_defaults_follow_adapter(harness_app):
    assert parse_config({"base_model": "m"}, harness_app).trainer.name == "full"
    assert parse_config({"base_model": "m", "adapter": "qlora"}, harness_app).trainer.name == "qlora"


RUN_CONFIGS = sorted(p for p in (ROOT / "configs").glob("*.yml") if not p.name.startswith("compare_"))


@pytest.mark.parametrize("path", RUN_CONFIGS, ids=[p.name for p in RUN_CONFIGS])
def test_every_shipped_run_config_validates(path, harness_app):
    load_config(path, harness_app)
