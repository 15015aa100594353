"""harness.testing: the tiny model fixture is a real, trainable Llama with a real tokenizer."""

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from harness import Example, Message
from harness.data.tokenize import IGNORE_INDEX, encode


def test_tiny_model_is_a_llama_with_smollm2_tokenizer(tiny_model_dir):
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    assert model.config.model_type == "llama"
    assert sum(p.numel() for p in model.parameters()) < 8_000_000  # mostly the two 49k-token embeddings
    assert tokenizer.chat_template and "<|im_start|>" in tokenizer.chat_template
    batch = tokenizer(["hello world"], return_tensors="pt")
    loss = model(**batch, labels=batch["input_ids"]).loss
    loss.backward()
    assert torch.isfinite(loss)


def test_assistant_only_labels(tiny_model_dir):
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    example = Example(messages=(
        Message("system", "You are a fire commander."),
        Message("user", "First question?"),
        Message("assistant", "First answer."),
        Message("user", "Second question?"),
        Message("assistant", "Second answer."),
    ))
    encoded = encode(example, tokenizer, max_length=512)
    trained = tokenizer.decode([t for t in encoded.labels if t != IGNORE_INDEX])
    assert "First answer." in trained and "Second answer." in trained
    assert "question" not in trained and "commander" not in trained
    everything = encode(example, tokenizer, max_length=512, train_on="all")
    assert everything.labels == everything.input_ids
    short = encode(example, tokenizer, max_length=8)
    assert len(short.input_ids) == 8 and short.truncated


def test_completion_text_trains_on_all_tokens(tiny_model_dir):
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    encoded = encode(Example(text="Class B fires involve flammable liquids."), tokenizer, max_length=64)
    assert encoded.labels == encoded.input_ids and encoded.input_ids[-1] == tokenizer.eos_token_id
