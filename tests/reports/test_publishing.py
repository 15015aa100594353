"""The model card (parsed back by huggingface_hub) and publishing what passed (--to-folder; hub_model_id)."""

from __future__ import annotations

import json

import pytest
import yaml

from harness.cli import main
from harness.loop import rounds as loop
from harness.loop.reporting import render_reports
from scenario import scenario  # noqa: F401  (fixture)


def test_the_card_beside_the_chosen_weights_parses_as_a_hub_model_card(finished_run):
    from huggingface_hub import ModelCard
    from huggingface_hub.repocard_data import model_index_to_eval_results

    run_dir, harness = finished_run
    (card_file,) = render_reports(harness, run_dir, only=["model_card"])
    assert card_file.parent == run_dir / "rounds" / "round-3" / "train" / "model"  # the chosen round's weights
    card = ModelCard.load(card_file)
    assert card.data.library_name == "transformers" and "forgetting-gate-pass" in card.data.tags
    assert card.data.base_model is None  # a local folder is no Hub id, and the Hub refuses one
    name, results = model_index_to_eval_results(card.data.to_dict()["model-index"])
    by_metric = {(r.dataset_name, r.metric_type): r.metric_value for r in results}
    assert by_metric[("test_general", "acc")] == pytest.approx(0.98)
    assert by_metric[("test_general", "relative_forgetting_pct")] == pytest.approx(2.0)
    assert by_metric[("test_domain", "acc")] == pytest.approx(0.8)
    assert "| test_general | general | 100 | 1.000 | 0.980 | -2.0% | [-5.0%, +0.0%]" in card.text
    assert "## Forgetting verdict: PASS" in card.text and "AutoModelForCausalLM.from_pretrained" in card.text


def test_publish_to_a_folder_writes_the_weights_the_card_and_the_evidence(finished_run, tmp_path, capsys):
    run_dir, harness = finished_run
    render_reports(harness, run_dir, only=["markdown", "json"])
    target = tmp_path / "release"
    assert main(["publish", str(run_dir), "--repo", "fire-service/procedures-lora", "--to-folder", str(target)]) == 0
    names = {str(p.relative_to(target)) for p in target.rglob("*") if p.is_file()}
    assert {"README.md", "config.json", "model.safetensors", "tokenizer.json", "evaluation/verdict.json",
            "evaluation/report.md", "evaluation/results.json"} <= names
    assert "# fire-service/procedures-lora" in (target / "README.md").read_text()
    assert main(["publish", str(run_dir), "--to-folder", str(target)]) == 2  # never over an earlier release
    assert "not empty" in capsys.readouterr().err


def test_a_failed_verdict_is_not_published_unless_asked(scenario, tmp_path, capsys):
    config, harness = scenario("schedule")
    data = yaml.safe_load(config.read_text())
    data["mitigation"]["schedule"] = [0.2]  # 12% forgetting and no second round: FAIL
    config.write_text(yaml.safe_dump(data))
    loop.run(config, harness, tmp_path / "failed", progress=False)
    assert main(["publish", str(tmp_path / "failed"), "--to-folder", str(tmp_path / "out")]) == 1  # as the gate
    assert "not published: the verdict is FAIL" in capsys.readouterr().err and not (tmp_path / "out").exists()
    assert main(["publish", str(tmp_path / "failed"), "--to-folder", str(tmp_path / "out"), "--allow-fail"]) == 0
    assert "forgetting-gate-fail" in (tmp_path / "out" / "README.md").read_text()


def test_hub_model_id_publishes_after_a_pass_and_an_unreachable_hub_never_fails_the_run(scenario, tmp_path,
                                                                                       monkeypatch, capsys):
    from harness.commands.run import publish_if_asked

    config, harness = scenario("schedule")
    data = yaml.safe_load(config.read_text())
    data["hub_model_id"] = "fire-service/procedures"
    config.write_text(yaml.safe_dump(data))
    loop.run(config, harness, tmp_path / "run", progress=False)
    assert json.loads((tmp_path / "run" / "verdict.json").read_text())["status"] == "pass"
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    publish_if_asked(tmp_path / "run")  # the run's own command calls this after its verdict
    out = capsys.readouterr().out
    assert "hub_model_id: cannot publish to fire-service/procedures: the Hub is switched off here" in out
    assert main(["publish", str(tmp_path / "run"), "--repo", "fire-service/procedures"]) == 2


@pytest.mark.slow
def test_export_gguf_of_a_run_writes_its_chosen_weights(finished_run, tmp_path, capsys):
    import torch

    from harness.models.loading import load_model

    run_dir, _ = finished_run
    out = tmp_path / "release.gguf"
    assert main(["export-gguf", str(run_dir), "--output", str(out), "--type", "f32"]) == 0
    assert f"wrote {out}: llama" in capsys.readouterr().out
    chosen = load_model(str(run_dir / "rounds" / "round-3" / "train" / "model"), dtype="float32", fingerprint=False)
    exported = load_model(str(out), dtype="float32", fingerprint=False)
    ids = torch.tensor([[1, 520, 9531, 198, 42]])
    with torch.no_grad():
        assert torch.allclose(chosen.model(ids).logits, exported.model(ids).logits, atol=1e-5)
