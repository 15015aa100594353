"""Model resolution, the offline alias, safe loading, device and dtype choice."""

from __future__ import annotations

import time

import pytest
import torch

from harness import UsageError
from harness.models.loading import (
    converted_folder,
    load_model,
    pick_dtype,
    resolve_model,
    smollm2_gguf,
    weights_fingerprint,
)


def test_resolve_kinds(tmp_path, tiny_model_dir):
    assert resolve_model("smollm2-135m-instruct").kind == "gguf"
    assert resolve_model(str(tiny_model_dir)).kind == "folder"
    assert resolve_model("meta-llama/Meta-Llama-3.1-8B-Instruct").kind == "hub"
    with pytest.raises(UsageError, match="no such file"):
        resolve_model(str(tmp_path / "missing.gguf"))


def test_tiny_model_loads_with_fingerprint(tiny_model_dir):
    loaded = load_model(str(tiny_model_dir), dtype="float32")
    assert loaded.device == "cpu" and loaded.dtype == "float32"
    assert loaded.fingerprint == weights_fingerprint(loaded.model)
    with torch.no_grad():
        next(loaded.model.parameters()).add_(1.0)
    assert weights_fingerprint(loaded.model) != loaded.fingerprint


def test_pickle_checkpoints_refused_unless_opted_in(tmp_path, tiny_model_dir):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder = tmp_path / "pickled"
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    folder.mkdir()
    model.config.save_pretrained(folder)
    torch.save(model.state_dict(), folder / "pytorch_model.bin")  # an old-style pickle checkpoint
    AutoTokenizer.from_pretrained(tiny_model_dir).save_pretrained(folder)
    assert not list(folder.glob("*.safetensors"))
    with pytest.raises(UsageError, match="could not load"):
        load_model(str(folder), dtype="float32", fingerprint=False)
    with pytest.warns(UserWarning, match="pickle"):
        load_model(str(folder), dtype="float32", fingerprint=False, allow_pickle_weights=True)


def test_trust_remote_code_warns(tiny_model_dir):
    with pytest.warns(UserWarning, match="trust_remote_code"):
        load_model(str(tiny_model_dir), dtype="float32", fingerprint=False, trust_remote_code=True)


def test_dtype_choice():
    assert pick_dtype("cpu", "float32") == "float32"
    assert pick_dtype("cpu") in {"bfloat16", "float32"}


@pytest.mark.slow
def test_offline_smollm2_loads_and_caches_conversion():
    """The alias works with no hub; the converted folder makes the second load fast."""
    folder = converted_folder(smollm2_gguf())  # converts once per machine
    assert (folder / "model.safetensors").is_file()
    start = time.perf_counter()
    loaded = load_model("smollm2-135m-instruct")
    assert sum(p.numel() for p in loaded.model.parameters()) == pytest.approx(134.5e6, rel=0.01)
    prompt = loaded.tokenizer.apply_chat_template(
        [{"role": "user", "content": "What is the capital of France?"}], add_generation_prompt=True, tokenize=False
    )
    ids = loaded.tokenizer(prompt, return_tensors="pt").to(loaded.device)
    out = loaded.model.generate(**ids, max_new_tokens=12, do_sample=False)
    answer = loaded.tokenizer.decode(out[0, ids["input_ids"].shape[1]:], skip_special_tokens=True)
    assert "Paris" in answer
    assert time.perf_counter() - start < 600  # a bound on hanging, not a speed claim
