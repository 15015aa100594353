"""The memory plan: per process, what a config's training holds at its peak, line by line.

Pure arithmetic on a :class:`ModelShape` and :class:`PlanSettings`; nothing is
loaded or imported beyond the standard library. The engine facts it models
(``harness/training/modeling.py``, the trainer plugins, PEFT, transformers):

- full fine-tuning keeps fp32 master weights (or bf16 weights and gradients with
  ``master_weights: bfloat16``, AdamW's moments still fp32); under autocast every
  matmul reads a half-precision copy of its weight, which autocast caches until
  the forward pass ends and backward keeps until it has used it;
- LoRA keeps the frozen base in the autocast dtype (bf16) and the adapters in
  fp32; with an 8-bit or 4-bit base (``load_in_8bit``, QLoRA's NF4),
  ``prepare_model_for_kbit_training`` upcasts the unquantised weights
  (embeddings, output head, norms) to fp32;
- trainable parameters are fp32, so are their gradients; AdamW keeps two fp32
  states per trainable parameter, bitsandbytes' 8-bit optimizers two bytes
  (tensors under 4,096 elements stay 32-bit), paged ones the same but
  spillable to host memory;
- EWC keeps an fp32 Fisher diagonal of the weights it protects, and for full
  fine-tuning an anchor copy of them;
- activations are counted per token from the tensors autograd saves in one
  Llama-style layer (below), with gradient checkpointing only each layer's
  input plus one layer recomputed; the logits and their fp32 cross-entropy are
  counted over every position (the engine computes them only where a label is
  trained, so this is the worst case), which dominates at 128k vocabularies.

Sharded (FSDP full-shard / ZeRO-3) divides weights, gradients and optimizer
state by the number of GPUs and adds the units gathered for compute (in the
compute dtype: FSDP's mixed-precision policy gathers bf16 copies, so autocast
makes none); the root unit (embeddings, head) stays gathered through the step.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Literal

from harness.memory.shape import ModelShape

GIB = 2**30

# bytes per element of a storage format
BYTES = {"fp32": 4.0, "bf16": 2.0, "fp16": 2.0}
# bitsandbytes: LLM.int8() keeps one byte per weight plus an fp32 scale per output row; NF4 half a
# byte, with double quantisation an 8-bit scale per 64 weights and an fp32 one per 256 of those.
NF4_BYTES = 0.5 + 1 / 64 + 4 / (64 * 256)
# bytes of optimizer state per trainable element, and whether bitsandbytes may page it to host memory
OPTIMIZER_STATE = {
    "adamw_torch": (8.0, False), "adamw_torch_fused": (8.0, False), "adamw": (8.0, False),
    "adamw_bnb_8bit": (2.0, False), "adamw_8bit": (2.0, False), "paged_adamw_8bit": (2.0, True),
    "paged_adamw_32bit": (8.0, True), "lion_8bit": (1.0, False), "paged_lion_8bit": (1.0, True),
    "paged_lion_32bit": (4.0, True), "sgd": (0.0, False),  # transformers' sgd: no momentum
}
BNB_MIN_8BIT_SIZE = 4096  # bitsandbytes keeps smaller tensors' state in 32 bits
CUDA_CONTEXT_GIB = 1.0  # CUDA context, kernels, cuBLAS workspace: about 0.5-1 GiB on recent cards
FRAGMENTATION = 0.05  # the caching allocator's unusable remainder, as a share of the rest
CPU_RUNTIME_GIB = 1.0  # Python, torch and transformers loaded, tokenizer and data
# How far measured peaks may fall from the plan (tests/test_memory_plan.py checks it on CPU): the
# arithmetic is exact for weights and optimizer state, approximate for activations and the runtime.
TOLERANCE = 0.3


@dataclass(frozen=True)
class PlanSettings:
    """What a run config says about memory, in the plan's terms."""

    method: Literal["full", "lora"]
    base_format: Literal["fp32", "bf16", "fp16", "int8", "nf4"]  # the frozen base (LoRA); full: fp32
    compute: Literal["fp32", "bf16", "fp16"]  # the autocast dtype (fp32: no autocast)
    master_weights: Literal["fp32", "bf16"] = "fp32"  # full fine-tuning's weights and gradients
    bf16_master_available: bool = False  # the config takes master_weights (a fix to suggest)
    master_auto: bool = False  # master_weights: auto: bf16 where fp32 would not fit (report.py)
    optimizer: str = "adamw_torch"
    lora_r: int = 32
    lora_targets: tuple[str, ...] = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
    lora_dropout: bool = True
    dora: bool = False
    modules_to_save: tuple[str, ...] = ()
    ewc: bool = False
    gradient_checkpointing: bool = False
    micro_batch_size: int = 1
    sequence_len: int = 2048
    sharded: bool = False  # FSDP full-shard / ZeRO-3
    eager_attention: bool = False
    label: str = ""  # how the config names this setup (trainer, adapter), for the plan's heading


@dataclass(frozen=True)
class Target:
    """What the plan is checked against: N devices of M GiB each."""

    kind: Literal["cuda", "cpu"]
    devices: int
    memory_gib: float
    origin: str  # where the figure came from (--gpu-memory, the GPUs here, this machine's RAM)

    def describe(self) -> str:
        what = "GPU" if self.kind == "cuda" else "CPU process"
        return f"{self.devices} {what}{'s' * (self.devices != 1)} × {self.memory_gib:.1f} GiB ({self.origin})"


@dataclass(frozen=True)
class MemoryLine:
    """One component of the plan; ``counted`` is false for an alternative shown beside the chosen one."""

    component: str
    bytes: float
    detail: str = ""
    counted: bool = True
    spillable: bool = False  # a paged optimizer's state may move to host memory

    @property
    def gib(self) -> float:
        return self.bytes / GIB


@dataclass(frozen=True)
class MemoryPlan:
    """The estimated memory of one process of a run: one line per component and the total."""

    shape: ModelShape
    settings: PlanSettings
    target: Target
    processes: int  # GPUs the run spreads over (DDP replicates, sharding divides)
    parameters: int
    trainable: int
    lines: tuple[MemoryLine, ...] = field(default_factory=tuple)

    @property
    def total_bytes(self) -> float:
        return sum(line.bytes for line in self.lines if line.counted)

    @property
    def resident_bytes(self) -> float:
        """What must stay on the device (a paged optimizer's state may spill)."""
        return sum(line.bytes for line in self.lines if line.counted and not line.spillable)

    @property
    def total_gib(self) -> float:
        return self.total_bytes / GIB

    @property
    def fits(self) -> bool:
        return self.resident_bytes <= self.target.memory_gib * GIB

    def line(self, component: str) -> MemoryLine:
        return next(line for line in self.lines if line.component == component)


# ---------------------------------------------------------------- parameters


def _adapted(shape: ModelShape, settings: PlanSettings) -> list:
    targets = set(settings.lora_targets)
    return [linear for linear in shape.linears() if "all-linear" in targets or linear.name in targets]


def _saved_modules(shape: ModelShape, settings: PlanSettings) -> int:
    """Parameters of modules PEFT trains in full beside the adapter (embed_tokens, lm_head)."""
    per = {"embed_tokens": shape.vocab * shape.hidden,
           "lm_head": 0 if shape.tied_embeddings else shape.vocab * shape.hidden}
    return sum(per.get(name, 0) for name in settings.modules_to_save)


def trainable_tensors(shape: ModelShape, settings: PlanSettings) -> list[tuple[int, int, int]]:
    """Every trainable tensor as (rows, columns, how many); a vector has one column."""
    if settings.method == "full":
        tensors = [(linear.outputs, linear.inputs, shape.layers) for linear in shape.linears()]
        tensors += [(linear.outputs, 1, shape.layers) for linear in shape.linears() if linear.bias]
        tensors += [(shape.hidden, 1, shape.layers * shape.norms_per_layer + 1)]
        if shape.qk_norm:
            tensors.append((shape.head_dim, 1, 2 * shape.layers))
        tensors.append((shape.vocab, shape.hidden, 1 if shape.tied_embeddings else 2))
        return tensors
    r = settings.lora_r
    tensors = []
    for linear in _adapted(shape, settings):
        tensors += [(r, linear.inputs, shape.layers), (linear.outputs, r, shape.layers)]
        if settings.dora:
            tensors.append((linear.outputs, 1, shape.layers))
    saved = _saved_modules(shape, settings)
    if saved:
        tensors.append((saved // shape.hidden, shape.hidden, 1))
    return tensors


def count(tensors: list[tuple[int, int, int]]) -> int:
    return sum(rows * cols * n for rows, cols, n in tensors)


def _optimizer_bytes(tensors: list[tuple[int, int, int]], optimizer: str) -> tuple[float, str, bool]:
    if optimizer == "adafactor":
        # factored second moment: a row and a column vector per matrix (fp32), no first moment
        total = sum(4.0 * ((rows + cols) if cols > 1 else rows) * n for rows, cols, n in tensors)
        return total, "Adafactor: factored second moment, fp32", False
    per, paged = OPTIMIZER_STATE.get(optimizer, (8.0, False))
    if per < 8.0 and "32bit" not in optimizer:
        small = sum(rows * cols * n for rows, cols, n in tensors if rows * cols < BNB_MIN_8BIT_SIZE)
        total = per * (count(tensors) - small) + 8.0 * small
        how = f"{per:g} B per trainable parameter (8-bit)"
    else:
        total = per * count(tensors)
        how = f"{per:g} B per trainable parameter" + (" (fp32)" if per else "")
    return total, f"{optimizer}: {how}" + (", paged: may spill to host memory" if paged else ""), paged


# ---------------------------------------------------------------- activations


def _residual_bytes(settings: PlanSettings) -> float:
    """The residual stream's dtype: the weights' outside matmuls (fp32 master weights, an upcast kbit base)."""
    if settings.method == "full":
        return BYTES[settings.master_weights]
    if settings.base_format in ("int8", "nf4"):
        return 4.0
    return BYTES[settings.base_format]


def layer_bytes_per_token(shape: ModelShape, settings: PlanSettings) -> float:
    """What autograd keeps for backward in one decoder layer, per token, without checkpointing."""
    a, r = BYTES[settings.compute], _residual_bytes(settings)
    h, q, kv, inter = shape.hidden, shape.heads * shape.head_dim, shape.kv_heads * shape.head_dim, shape.intermediate
    norms = shape.norms_per_layer * (4 + r) * h  # RMSNorm computes in fp32: its input and normalised output
    # A matmul saves its input; autocast casts that input once per projection when the dtypes differ.
    attention_inputs = (r if a == r else 3 * a) * h
    mlp_inputs = (r if a == r else 2 * a) * h
    attention = a * (2 * q + 2 * kv) + a * q  # SDPA keeps q, k, v, its output; o_proj's input
    if settings.eager_attention:  # eager attention keeps the fp32 probabilities and their cast per head
        attention += (4 + a) * shape.heads * settings.sequence_len
    mlp = 4 * a * inter  # gate and up outputs, SiLU's output, their product
    adapters = 0.0
    if settings.method == "lora" and settings.lora_dropout:
        adapters = sum((a + 1) * linear.inputs for linear in _adapted(shape, settings))  # dropout output + mask
    return norms + attention_inputs + mlp_inputs + attention + mlp + adapters


def activation_lines(shape: ModelShape, settings: PlanSettings) -> list[MemoryLine]:
    tokens = settings.micro_batch_size * settings.sequence_len
    a, r = BYTES[settings.compute], _residual_bytes(settings)
    layer = layer_bytes_per_token(shape, settings) * tokens
    outside = (4 + r + a) * shape.hidden * tokens  # the final norm and the output head's input
    full = shape.layers * layer + outside
    # checkpointed: each layer's input, one layer recomputed, and the gradient flowing back through it
    checkpointed = shape.layers * r * shape.hidden * tokens + layer + 2 * r * shape.hidden * tokens + outside
    where = f"micro_batch_size {settings.micro_batch_size} × sequence_len {settings.sequence_len}"
    on = settings.gradient_checkpointing
    lines = [MemoryLine("activations, checkpointed", checkpointed, where + ("" if on else "; not chosen"), on),
             MemoryLine("activations, not checkpointed", full, where + ("; not chosen" if on else ""), not on)]
    # forward: the logits, their fp32 copy and log-softmax; backward: log-softmax, its fp32 gradient and
    # that gradient in the logits' dtype. Both peaks come to about (a + 8) bytes per logit.
    loss = tokens * shape.vocab * (a + 8)
    lines.append(MemoryLine("logits and loss", loss, f"{shape.vocab:,} vocabulary × {tokens:,} positions: logits "
                            f"({settings.compute}), fp32 log-softmax and its gradient"))
    return lines


# ---------------------------------------------------------------- the plan


def _base_lines(shape: ModelShape, settings: PlanSettings, trainable: int) -> tuple[list[MemoryLine], float]:
    """The weights' lines, and the bytes per parameter of the stored base (for gathered shards)."""
    matmul = shape.layers * sum(linear.parameters for linear in shape.linears()) + shape.vocab * shape.hidden
    if settings.method == "full":
        master = BYTES[settings.master_weights]
        lines = [MemoryLine("weights", master * shape.parameters, f"{settings.master_weights} master weights")]
        if settings.compute != "fp32" and settings.master_weights == "fp32":
            lines.append(MemoryLine("weights, autocast copies", BYTES[settings.compute] * matmul,
                                    f"{settings.compute} copies of every matmul's weight, held until backward"))
        return lines, master
    linears = shape.layers * sum(linear.parameters for linear in shape.linears())
    rest = shape.parameters - linears
    fmt = settings.base_format
    if fmt in ("int8", "nf4"):
        rows = shape.layers * sum(linear.outputs for linear in shape.linears())
        stored = linears * NF4_BYTES if fmt == "nf4" else linears * 1.0 + 4.0 * rows
        lines = [MemoryLine("weights", stored + 4.0 * rest,
                            f"frozen base: projections {'NF4, double-quantised' if fmt == 'nf4' else 'int8'}; "
                            f"embeddings, head and norms upcast to fp32 (prepare_model_for_kbit_training)")]
        per = (stored + 4.0 * rest) / shape.parameters
    else:
        lines = [MemoryLine("weights", BYTES[fmt] * shape.parameters, f"frozen base in {fmt}")]
        per = BYTES[fmt]
    saved = _saved_modules(shape, settings)
    lines.append(MemoryLine("weights, adapters", 4.0 * trainable,
                            f"LoRA r={settings.lora_r} in fp32" + (" with trained copies of "
                                                                    f"{', '.join(settings.modules_to_save)}"
                                                                    if saved else "")))
    return lines, per


def plan_memory(shape: ModelShape, settings: PlanSettings, target: Target, processes: int | None = None) -> MemoryPlan:
    """The plan for one process of a run over ``processes`` GPUs (default: the target's)."""
    processes = processes or target.devices
    split = processes if settings.sharded else 1
    tensors = trainable_tensors(shape, settings)
    trainable = count(tensors)
    weights, base_per_param = _base_lines(shape, settings, trainable)
    # Sharded, FSDP's mixed-precision policy gathers each unit already in the compute dtype: no autocast copies.
    lines = [replace(line, bytes=line.bytes / split) for line in weights
             if split == 1 or line.component != "weights, autocast copies"]
    grad = BYTES[settings.master_weights] if settings.method == "full" else 4.0
    lines.append(MemoryLine("gradients", grad * trainable / split,
                            f"{'bf16' if grad == 2 else 'fp32'}, one per trainable parameter"))
    state, how, paged = _optimizer_bytes(tensors, settings.optimizer)
    lines.append(MemoryLine("optimizer state", state / split, how, spillable=paged))
    if settings.ewc:
        if settings.method == "full":
            protected = (4.0 + BYTES[settings.master_weights]) * trainable
            why = "fp32 Fisher diagonal and an anchor copy of every weight"
        else:
            protected = 4.0 * shape.layers * sum(linear.inputs * linear.outputs for linear in _adapted(shape, settings))
            why = "fp32 Fisher diagonal of every adapted base weight"
        lines.append(MemoryLine("EWC", protected / split, why))
    if split > 1:
        unit = shape.layer_parameters
        root = shape.embedding_parameters + shape.hidden
        per = BYTES[settings.compute] if settings.method == "full" else base_per_param
        gathered = (root + 2 * unit) * per
        lines.append(MemoryLine("gathered shards", gathered, "the embeddings and head, and one layer plus the next "
                                                            "prefetched, unsharded for compute"))
    elif processes > 1:
        lines.append(MemoryLine("DDP gradient buckets", grad * trainable, "DDP's flat copy of the gradients for "
                                                                         "all-reduce"))
    lines += activation_lines(shape, settings)
    lines.append(_runtime_line(target, sum(line.bytes for line in lines if line.counted)))
    return MemoryPlan(shape, settings, target, processes, shape.parameters, trainable, tuple(lines))


def _runtime_line(target: Target, rest: float) -> MemoryLine:
    if target.kind == "cuda":
        return MemoryLine("CUDA and allocator", CUDA_CONTEXT_GIB * GIB + FRAGMENTATION * rest,
                          f"assumed: {CUDA_CONTEXT_GIB:g} GiB CUDA context and workspaces, "
                          f"{FRAGMENTATION:.0%} of the rest lost to fragmentation")
    return MemoryLine("runtime", CPU_RUNTIME_GIB * GIB, f"assumed: {CPU_RUNTIME_GIB:g} GiB for Python, torch, "
                                                        f"transformers, tokenizer and data")
