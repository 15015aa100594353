"""harness merge: the adapter folded in, written in the base's own dtype unless told otherwise."""

from __future__ import annotations

import json

import pytest
import torch

from harness.cli import main


@pytest.fixture
def adapter_on_bf16_base(tiny_model_dir, tmp_path):
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.bfloat16)
    base.save_pretrained(tmp_path / "base")  # its config now says bfloat16, as Llama 3's does
    AutoTokenizer.from_pretrained(tiny_model_dir).save_pretrained(tmp_path / "base")
    peft = get_peft_model(AutoModelForCausalLM.from_pretrained(tiny_model_dir),
                          LoraConfig(r=4, target_modules=["q_proj", "v_proj"], init_lora_weights=False))
    peft.save_pretrained(tmp_path / "adapter")
    return tmp_path / "base", tmp_path / "adapter"


def _weights(folder):
    from safetensors.torch import load_file

    return load_file(str(folder / "model.safetensors"))


def test_merge_writes_the_base_dtype_by_default_and_the_asked_one_otherwise(adapter_on_bf16_base, tmp_path):
    base, adapter = adapter_on_bf16_base
    assert main(["merge", "--base", str(base), "--adapter", str(adapter), "--output", str(tmp_path / "auto")]) == 0
    weights = _weights(tmp_path / "auto")
    assert {t.dtype for t in weights.values()} == {torch.bfloat16}
    assert json.loads((tmp_path / "auto" / "config.json").read_text())["dtype"] == "bfloat16"
    assert main(["merge", "--base", str(base), "--adapter", str(adapter), "--output", str(tmp_path / "fp32"),
                 "--dtype", "float32"]) == 0
    full = _weights(tmp_path / "fp32")
    assert {t.dtype for t in full.values()} == {torch.float32}
    # Same merged weights, rounded: the adapter really was folded in (it changed q_proj).
    name = next(k for k in full if k.endswith("q_proj.weight"))
    torch.testing.assert_close(weights[name].float(), full[name], rtol=1e-2, atol=1e-2)
    plain = _weights(base)
    assert not torch.allclose(full[name], plain[name].float(), atol=1e-4)
    size = sum(p.stat().st_size for p in (tmp_path / "auto").glob("*.safetensors"))
    assert size < 0.6 * sum(p.stat().st_size for p in (tmp_path / "fp32").glob("*.safetensors"))
