"""Axolotl's sample_packing, pad_to_sequence_len and dataset_prepared_path, on the data and the engine."""

from __future__ import annotations

import pytest
import torch

from harness.data.tokenize import IGNORE_INDEX
from harness.training.data import TokenizedDataset
from harness.training.sample_packing import PackedRowsCollator, pack_rows


def _rows(lengths: list[int]) -> TokenizedDataset:
    return TokenizedDataset([{"input_ids": [100 * i + t for t in range(n)], "labels": [100 * i + t for t in range(n)]}
                             for i, n in enumerate(lengths)])


def test_packing_places_every_example_once_in_rows_no_longer_than_the_capacity():
    lengths = [(i * 37) % 60 + 3 for i in range(50)]
    plain = _rows(lengths)
    packed = pack_rows(plain, capacity=64, seed=1)
    assert max(packed.lengths) <= 64
    assert sum(packed.lengths) == sum(lengths)
    assert len(packed) < len(plain) and len(packed) <= -(-sum(lengths) // 64) + 2  # nearly as few rows as can be
    firsts = sorted(row["input_ids"][start] for row in packed.rows
                    for start in [sum(row["examples"][:k]) for k in range(len(row["examples"]))])
    assert firsts == [100 * i for i in range(50)]  # every example's first token, once
    assert [r["input_ids"] for r in pack_rows(plain, 64, seed=1).rows] == [r["input_ids"] for r in packed.rows]


def test_a_packed_row_restarts_positions_and_trains_no_token_on_the_example_before_it():
    packed = pack_rows(_rows([5, 3]), capacity=8, seed=0).rows
    assert len(packed) == 1
    row = packed[0]
    assert row["position_ids"] == [0, 1, 2, 3, 4, 0, 1, 2]
    assert row["labels"][5] == IGNORE_INDEX  # the second example's first token: not predicted from the first's
    assert row["labels"][6:] == row["input_ids"][6:]


def test_collator_pads_with_a_sequence_of_its_own_and_counts_the_padding():
    batch = PackedRowsCollator(pad_token_id=0, pad_to=8)(
        [{"input_ids": [5, 6, 7], "labels": [5, 6, 7], "position_ids": [0, 1, 0]}])
    assert batch["input_ids"].shape == (1, 8) and "attention_mask" not in batch
    assert batch["position_ids"].tolist() == [[0, 1, 0, 0, 1, 2, 3, 4]]
    assert batch["labels"][0, 3:].eq(IGNORE_INDEX).all() and int(batch["padded_slots"]) == 5


@pytest.mark.parametrize("attention", ["sdpa", "eager"])
def test_each_packed_example_gets_the_logits_it_gets_alone(tiny_model_dir, attention):
    """What makes packing honest: no example sees another (transformers masks by the restarted positions)."""
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir, attn_implementation=attention,
                                                 dtype=torch.float32).eval()
    model.config.use_cache = False
    generator = torch.Generator().manual_seed(0)
    pieces = [torch.randint(5, 200, (n,), generator=generator).tolist() for n in (7, 4, 9)]
    rows = TokenizedDataset([{"input_ids": p, "labels": p} for p in pieces])
    packed = pack_rows(rows, capacity=32, seed=0)
    assert len(packed) == 1
    batch = PackedRowsCollator(pad_token_id=0, pad_to=24)(packed.rows)
    with torch.no_grad():
        together = model(input_ids=batch["input_ids"], position_ids=batch["position_ids"]).logits[0]
        start = 0
        for n in packed.rows[0]["examples"]:
            alone = model(input_ids=batch["input_ids"][:, start:start + n]).logits[0]
            torch.testing.assert_close(together[start:start + n], alone, rtol=1e-4, atol=1e-4)
            start += n


@pytest.mark.slow
def test_sample_packing_trains_on_packed_rows_and_pad_to_sequence_len_fixes_the_width(tmp_path, tiny_model_dir):
    """The honoured keys change what the engine does: fewer, fuller rows; every batch sequence_len wide."""
    from transformers import TrainerCallback

    from harness import TrainRequest
    from harness.training import EngineOptions, attach_lora, load_for_training, run_training
    from train_helpers import examples, settings

    shapes: list[tuple[tuple[int, ...], bool]] = []

    class Spy(TrainerCallback):
        def on_train_begin(self, args, state, control, train_dataloader=None, **kwargs):
            batch = next(iter(train_dataloader))
            shapes.append((tuple(batch["input_ids"].shape), "position_ids" in batch))
            shapes.append((len(train_dataloader.dataset),))

    config = settings(tiny_model_dir, max_steps=None, num_epochs=1, micro_batch_size=2, sample_packing=True,
                      sequence_len=256)
    model, tokenizer = load_for_training(config, frozen=True)
    request = TrainRequest(config=config, train=examples(16), validation=examples(4, seed=1),
                           output_dir=tmp_path / "run")
    record = run_training(request, attach_lora(model, config), tokenizer,
                          EngineOptions(is_adapter=True, callbacks=(Spy(),)))
    (width, has_positions), (packed_rows,) = shapes
    assert has_positions and width == (2, 256)  # pad_to_sequence_len follows sample_packing, as in Axolotl
    assert packed_rows < 16 / 2  # each ~56-token conversation shares a row with others
    assert record.steps == -(-packed_rows // 2)  # the step plan counts packed rows
    assert record.val_loss is not None and record.val_loss == record.val_loss  # packed validation scores

    shapes.clear()
    config = settings(tiny_model_dir, max_steps=1, pad_to_sequence_len=True, sequence_len=80)
    model, tokenizer = load_for_training(config, frozen=True)
    request = TrainRequest(config=config, train=examples(8), validation=[], output_dir=tmp_path / "padded")
    run_training(request, attach_lora(model, config), tokenizer, EngineOptions(is_adapter=True, callbacks=(Spy(),)))
    assert shapes[0] == ((4, 80), False) and shapes[1] == (8,)


def test_dataset_prepared_path_keeps_the_rows_and_a_later_run_reads_them(tmp_path, tiny_model_dir, capsys):
    from transformers import AutoTokenizer

    from harness.training.prepared import prepared_rows
    from train_helpers import examples, settings

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    config = settings(tiny_model_dir, dataset_prepared_path=str(tmp_path / "prepared"), sample_packing=True)
    first = prepared_rows(examples(12), tokenizer, config, packed=True, role="training")
    assert "rows kept in" in capsys.readouterr().out
    again = prepared_rows(examples(12), tokenizer, config, packed=True, role="training")
    assert "rows read from" in capsys.readouterr().out
    assert again.rows == first.rows and again.lengths == first.lengths
    # Anything that decides the rows makes a new key: other data, another sequence_len.
    prepared_rows(examples(11), tokenizer, config, packed=True, role="training")
    prepared_rows(examples(12), tokenizer, settings(tiny_model_dir, dataset_prepared_path=str(tmp_path / "prepared"),
                                                     sequence_len=64), packed=False, role="training")
    assert capsys.readouterr().out.count("rows kept in") == 2
    assert len([p for p in (tmp_path / "prepared").iterdir() if not p.name.endswith(".staging")]) == 3
