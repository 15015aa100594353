"""The loop under a launcher: rank 0 runs it, the other ranks only train when told.

Rank 0 mixes, evaluates, decides and writes the run folder exactly as in one
process. When a round trains, it first hands every other rank the same
:class:`TrainJob` (the trainer and its request); all ranks then train together
(DDP) and rank 0 goes on alone. When the loop ends, rank 0 sends a stop and
the others exit 0: they did their part. The run's outcome is rank 0's exit code
(and ``verdict.json``); torchrun itself exits non-zero whenever a rank did, so a
failed or undecided gate shows there as a failure of rank 0.

If rank 0 fails while no job is running, it still sends the stop; if it fails
during training, the others are inside a collective and cannot hear it, so the
launcher ends them (torchrun stops every rank when one exits non-zero).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Callable

from harness import distributed
from harness.records import TrainingRecord, TrainRequest

_training = False  # rank 0 is inside a job the other ranks run too
STOP = "stop"


@dataclass
class TrainJob:
    """One training run for every rank: the config's trainer (name, options) and its request."""

    trainer: Any  # the config's trainer reference: .name and .options
    request: TrainRequest


def train_on_all_ranks(trainer_ref: Any, request: TrainRequest,
                       train: Callable[[TrainRequest], TrainingRecord]) -> TrainingRecord:
    """On rank 0: send the other ranks this job, then train with them."""
    global _training
    if distributed.world_size() > 1:
        # The evaluation hook holds rank 0's models and writes rank 0's metrics; the others need none.
        distributed.broadcast(TrainJob(trainer_ref, dataclasses.replace(request, on_evaluate=None)))
    _training = True
    record = train(request)
    _training = False
    return record


def release() -> None:
    """On rank 0, when the loop is over (or failed outside training): let the other ranks exit."""
    if distributed.world_size() > 1 and not _training:
        distributed.broadcast(STOP)


def follow(harness: Any) -> int:
    """On every rank but 0: train each job rank 0 sends, until it says stop; exit 0."""
    while True:
        message = distributed.broadcast(None)
        if message == STOP:
            return 0
        cls = harness.trainer(message.trainer.name)
        cls(cls.Options.model_validate(message.trainer.options)).train(message.request)


__all__ = ["TrainJob", "follow", "release", "train_on_all_ranks"]
