"""GGUF export, round-tripped: every file written here is read back by transformers' own GGUF
reader (through harness's GGUF loading) and must score the same items the same way."""

from __future__ import annotations

import json
import math

import pytest
import torch

from harness import UsageError
from harness.cli import main
from harness.evaluation.scoring import evaluate, instantiate
from harness.models.gguf_export import export_gguf, interleave_rotary_rows, llama3_rope_divisors
from harness.models.loading import load_model
from harness.testing import build_tiny_model


def logits(loaded, text="<|im_start|>user\nWhere is the nearest hydrant?<|im_end|>\n"):
    ids = loaded.tokenizer(text, return_tensors="pt").input_ids
    with torch.no_grad():
        return loaded.model(ids).logits


def item_scores(loaded, harness_app, n=12):
    results = evaluate(loaded, instantiate(harness_app, ["arc_easy"]), limit=n, seed=0, batch_size=4, cache=False)
    (result,) = results.values()
    return [(item.item_id, item.score) for item in result.items]


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("HARNESS_CACHE", str(tmp_path / "cache"))  # GGUF files convert into the cache


@pytest.mark.slow
def test_a_float32_export_scores_every_item_exactly_as_the_model_did(tiny_model_dir, tmp_path, cache, harness_app):
    written = export_gguf(tiny_model_dir, tmp_path / "tiny.gguf", "f32")
    assert written.architecture == "llama" and written.path.stat().st_size == written.bytes
    original = load_model(str(tiny_model_dir), dtype="float32", fingerprint=False)
    back = load_model(str(written.path), dtype="float32", fingerprint=False)
    # Grouped-query attention (4 query, 2 key/value heads): the rotary row order is undone exactly.
    assert torch.allclose(logits(original), logits(back), atol=1e-5)
    assert item_scores(original, harness_app) == item_scores(back, harness_app)
    text = "<|im_start|>system\nYou are a dispatcher.<|im_end|>\n<|im_start|>user\nFire at 12 Odos Athinas!<|im_end|>"
    assert back.tokenizer(text).input_ids == original.tokenizer(text).input_ids  # specials stay single tokens
    assert back.tokenizer.chat_template == original.tokenizer.chat_template
    assert (back.tokenizer.bos_token, back.tokenizer.eos_token) == (original.tokenizer.bos_token,
                                                                    original.tokenizer.eos_token)


@pytest.mark.slow
def test_q8_0_halves_the_f16_file_and_stays_close(tiny_model_dir, tmp_path, cache):
    from gguf import GGMLQuantizationType, GGUFReader

    half = export_gguf(tiny_model_dir, tmp_path / "f16.gguf", "f16")
    eight = export_gguf(tiny_model_dir, tmp_path / "q8.gguf", "q8_0")
    kinds = {t.name: t.tensor_type for t in GGUFReader(eight.path).tensors}
    assert kinds["blk.0.attn_q.weight"] == GGMLQuantizationType.Q8_0
    assert kinds["blk.0.attn_norm.weight"] == GGMLQuantizationType.F32  # norms are never quantised
    weights_f16 = sum(t.n_bytes for t in GGUFReader(half.path).tensors)
    weights_q8 = sum(t.n_bytes for t in GGUFReader(eight.path).tensors)
    assert weights_q8 / weights_f16 == pytest.approx(34 / 64, abs=0.03)  # 32 int8 + one f16 scale per 32
    original = logits(load_model(str(tiny_model_dir), dtype="float32", fingerprint=False))
    back = logits(load_model(str(eight.path), dtype="float32", fingerprint=False))
    assert (original - back).abs().max() < 0.05 * original.abs().max()


@pytest.mark.slow
def test_tied_embeddings_and_qwen2_biases_round_trip(tmp_path, cache):
    from transformers import Qwen2Config, Qwen2ForCausalLM

    tied = build_tiny_model(tmp_path / "tied", tie_word_embeddings=True)
    written = export_gguf(tied, tmp_path / "tied.gguf", "f32")
    from gguf import GGUFReader

    assert "output.weight" not in {t.name for t in GGUFReader(written.path).tensors}
    assert torch.allclose(logits(load_model(str(tied), dtype="float32", fingerprint=False)),
                          logits(load_model(str(written.path), dtype="float32", fingerprint=False)), atol=1e-5)

    # Qwen2: biases on the query/key/value projections and no rotary reordering.
    llama = build_tiny_model(tmp_path / "llama")
    config = Qwen2Config(**{k: v for k, v in json.loads((llama / "config.json").read_text()).items()
                            if k in ("vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers",
                                     "num_attention_heads", "num_key_value_heads", "bos_token_id",
                                     "eos_token_id", "max_position_embeddings")}, tie_word_embeddings=False)
    torch.manual_seed(1)
    qwen = Qwen2ForCausalLM(config)
    for module in qwen.modules():
        if isinstance(module, torch.nn.Linear) and module.bias is not None:
            torch.nn.init.normal_(module.bias, std=0.5)  # zero biases would hide a misplaced one
    folder = tmp_path / "qwen2"
    qwen.save_pretrained(folder)
    for name in ("tokenizer.json", "tokenizer_config.json"):
        (folder / name).write_bytes((llama / name).read_bytes())
    written = export_gguf(folder, tmp_path / "qwen2.gguf", "f32")
    assert written.architecture == "qwen2"
    assert torch.allclose(logits(load_model(str(folder), dtype="float32", fingerprint=False)),
                          logits(load_model(str(written.path), dtype="float32", fingerprint=False)), atol=1e-5)


def test_the_rotary_reordering_is_what_a_gguf_reader_undoes():
    from transformers.modeling_gguf_pytorch_utils import LlamaTensorProcessor

    weight = torch.randn(4 * 8, 16).numpy()
    undone = LlamaTensorProcessor(config={"num_attention_heads": 4, "num_key_value_heads": 4})
    assert (undone.process(interleave_rotary_rows(weight, 4), "blk.0.attn_q.weight").weights == weight).all()


def test_llama3_rope_divisors_give_transformers_own_scaled_frequencies():
    from transformers import LlamaConfig
    from transformers.modeling_rope_utils import ROPE_INIT_FUNCTIONS

    scaling = {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
               "original_max_position_embeddings": 8192, "rope_theta": 500000.0}
    config = LlamaConfig(hidden_size=4096, num_attention_heads=32, rope_parameters=scaling,
                         max_position_embeddings=131072)
    scaled, _ = ROPE_INIT_FUNCTIONS["llama3"](config, "cpu")
    plain = 1.0 / 500000.0 ** (torch.arange(0, 128, 2, dtype=torch.float64) / 128)
    divisors = torch.from_numpy(llama3_rope_divisors(config)).double()
    assert torch.allclose(plain / divisors, scaled.double(), rtol=1e-5)
    assert divisors[0] == 1.0 and divisors[-1] == 8.0 and not math.isclose(float(divisors[40]), 1.0)


def test_what_it_cannot_write_is_refused_naming_the_converter_that_can(tiny_model_dir, tmp_path):
    config = json.loads((tiny_model_dir / "config.json").read_text())
    gemma = tmp_path / "gemma"
    gemma.mkdir()
    (gemma / "config.json").write_text(json.dumps({**config, "architectures": ["Gemma2ForCausalLM"],
                                                   "model_type": "gemma2"}))
    with pytest.raises(UsageError, match="Gemma2ForCausalLM.*convert_hf_to_gguf.py"):
        export_gguf(gemma, tmp_path / "g.gguf")
    spm = tmp_path / "spm"
    spm.mkdir()
    (spm / "config.json").write_text(json.dumps(config))
    tokenizer = json.loads((tiny_model_dir / "tokenizer.json").read_text())
    tokenizer["model"]["byte_fallback"] = True
    tokenizer["decoder"] = {"type": "Sequence", "decoders": []}
    (spm / "tokenizer.json").write_text(json.dumps(tokenizer))
    with pytest.raises(UsageError, match="SentencePiece-style.*convert_hf_to_gguf.py"):
        export_gguf(spm, tmp_path / "s.gguf")
    with pytest.raises(UsageError, match="choose one of f16, bf16, f32, q8_0"):
        export_gguf(tiny_model_dir, tmp_path / "t.gguf", "q4_k")


@pytest.mark.slow
def test_the_command_merges_an_adapter_first(tiny_model_dir, tmp_path, cache, capsys):
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    model = get_peft_model(AutoModelForCausalLM.from_pretrained(tiny_model_dir),
                           LoraConfig(r=4, target_modules=["q_proj", "k_proj", "v_proj"], task_type="CAUSAL_LM"))
    torch.manual_seed(0)
    for name, parameter in model.named_parameters():
        if "lora_B" in name:
            torch.nn.init.normal_(parameter, std=0.5)
    model.save_pretrained(tmp_path / "adapter")
    out = tmp_path / "merged.gguf"
    assert main(["export-gguf", str(tiny_model_dir), "--adapter", str(tmp_path / "adapter"), "--output", str(out),
                 "--type", "f32"]) == 0
    assert "llama, 21 tensors" in capsys.readouterr().out
    merged = model.merge_and_unload()
    ids = torch.tensor([[1, 520, 9531, 198, 42]])
    with torch.no_grad():
        expected = merged(ids).logits
        got = load_model(str(out), dtype="float32", fingerprint=False).model(ids).logits
    assert torch.allclose(expected, got, atol=1e-5)
    assert main(["export-gguf", str(tiny_model_dir), "--output", str(tmp_path / "x.bin")]) == 2  # says *.gguf
