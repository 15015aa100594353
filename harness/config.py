"""The run config's schema: the seed's Axolotl-style keys plus harness's own sections.

The schema alone: structure, types, defaults and the checks that need nothing but
the config itself. Reading a file, translating Axolotl's keys and checking every
named plugin against the installed ones is :mod:`harness.resolve.config_file`;
turning a config into a run ready to start is :mod:`harness.resolve`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class ComponentRef(Strict):
    """A component by name with its options: ``lora`` or ``{name: ewc, ewc_lambda: 0.4}``."""

    model_config = ConfigDict(extra="allow")
    name: str

    @model_validator(mode="before")
    @classmethod
    def _from_string(cls, value: Any) -> Any:
        return {"name": value} if isinstance(value, str) else value

    @property
    def options(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


class DatasetSpec(Strict):
    """One data source, as the seed writes it (``path``, ``type``, ``weight``, ``max_samples``)."""

    path: str
    type: str | None = None  # formatter name; detected from the data when omitted
    weight: float = Field(1.0, gt=0)
    max_samples: int | None = Field(None, gt=0)
    name: str | None = None
    # Axolotl's chat_template dataset keys: where a record keeps its turns (the formatter's options).
    field_messages: str | None = None
    message_field_role: str | None = None
    message_field_content: str | None = None
    roles: dict[str, list[str]] | None = None
    roles_to_train: list[str] | None = None
    # Axolotl's hub key: a hub data set's split (and, as Axolotl reads `name` for a hub id, its configuration).
    split: str | None = None
    data_files: str | list[str] | None = None  # for a hub id: which of its files (Axolotl's key)

    def formatter_options(self) -> dict[str, Any]:
        """The keys above that are set, as the formatter's options."""
        keys = ("field_messages", "message_field_role", "message_field_content", "roles", "roles_to_train")
        return {key: getattr(self, key) for key in keys if getattr(self, key) is not None}


class GeneralDataSpec(DatasetSpec):
    """A general data source; ``rehearses`` names what it trains back (general benchmarks of this
    run, or ``benchmark/group``), for mixers that weight sources by what was forgotten."""

    rehearses: list[str] = Field(default_factory=list)


class LrSchedulerKwargs(Strict):
    num_cycles: float | None = Field(None, gt=0)
    min_lr: float | None = Field(None, ge=0)


class EarlyStopping(Strict):
    patience: int = Field(3, ge=1)
    threshold: float = Field(0.01, ge=0)


class CallbackSpec(Strict):
    """The seed's ``callbacks: [{type: early_stopping, patience, threshold}]`` form."""

    type: Literal["early_stopping"]
    patience: int = Field(3, ge=1)
    threshold: float = Field(0.01, ge=0)


class BenchmarkRef(ComponentRef):
    limit: int | None = Field(None, gt=0)


class Benchmarks(Strict):
    """Which benchmarks measure forgetting (general) and gain (domain), and how they sample."""

    suite: str | None = "general-small"
    general: list[BenchmarkRef] = Field(default_factory=list)
    domain: list[BenchmarkRef] = Field(default_factory=list)
    limit: int | None = Field(200, gt=0)  # items per benchmark (point/strict, and domain); None = all
    # The sequential policy scores general benchmarks in looks: first_look items, then 20% more
    # (anytime; 50% more under planned looks), up to max_items, and stops each benchmark as soon as
    # it is decided.
    first_look: int = Field(50, ge=10)
    max_items: int = Field(800, ge=10)
    seed: int = 1234
    # Score the base on every item of each general benchmark (once, cached for every round, probe,
    # strategy and run) and draw the candidate's items where the base's margins say flips are
    # likely (harness/evaluation/assisted.py); pays where a benchmark has many more items than the budget.
    base_full: bool = False
    batch_size: int = Field(8, ge=1)
    # Options every benchmark of the run takes where its own options have the key (a
    # benchmark's own options win): e.g. {apply_chat_template: true} for every lm-eval task
    # of the suite, or include_path, a folder of task YAMLs that override lm-eval's by name.
    options: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _looks_fit(self) -> Benchmarks:
        if self.max_items < self.first_look:
            raise ValueError(f"max_items ({self.max_items}) is below first_look ({self.first_look}): the sequential "
                             f"verdict needs at least one look; raise benchmarks.max_items or lower "
                             f"benchmarks.first_look")
        return self


class Forgetting(Strict):
    """When a round counts as forgetting: relative degradation in percent, under a policy."""

    threshold: float = Field(5.0, gt=0, le=100)
    # sequential: decided pass / decided fail / undecided, sampling until decided (see
    # harness.evaluation.sequential). point: the seed's rule on the estimate. strict: the upper CI bound.
    policy: Literal["sequential", "point", "strict"] = "sequential"
    # anytime: a confidence sequence, valid however many items are scored, now or on a later look
    # with a larger budget. The planned-looks designs hold only for the max_items they were run with.
    spending: Literal["anytime", "pocock", "obrien_fleming", "bonferroni"] = "anytime"
    # benchmark: judge the benchmark's own forgetting (its N items the population: all N scored
    # is exact, never undecided). tasks_like_these: items as a sample of an unlimited pool.
    population: Literal["benchmark", "tasks_like_these"] = "benchmark"
    # base: the seed's (base - ft) / base. above_chance: (base - ft) / (base - chance).
    relative_to: Literal["base", "above_chance"] = "base"
    confidence: float = Field(0.95, gt=0.5, lt=1)
    bootstrap_samples: int = Field(2000, ge=100)
    # During training, at each evaluation step: the KL divergence (nats per token) of the
    # model's next-token distributions from the base model's on a fixed general sample.
    # 0 samples turns it off.
    early_warning_samples: int = Field(32, ge=0)
    early_warning_threshold: float = Field(0.05, gt=0)
    # last: evaluate the final weights (the seed's recipe). forgetting_aware: the
    # evaluation-step checkpoint with the best domain validation loss among those whose
    # KL stays under early_warning_threshold (the least-drifted one if none does). The
    # KL is a proxy with no universal scale: read it off the report's chart for your
    # model before choosing a threshold.
    checkpoint_choice: Literal["forgetting_aware", "last"] = "last"


class Mitigation(Strict):
    """How general data is mixed in, and how the loop escalates when forgetting is too high."""

    mixer: ComponentRef = Field(default_factory=lambda: ComponentRef(name="ratio"))
    general_data: list[GeneralDataSpec] = Field(default_factory=list)
    general_share: float = Field(0.2, ge=0, lt=1)
    schedule: list[float] = Field(default_factory=lambda: [0.2, 0.3, 0.4])
    policy: ComponentRef = Field(default_factory=lambda: ComponentRef(name="schedule"))
    max_rounds: int = Field(3, ge=1)

    @field_validator("schedule")
    @classmethod
    def _shares_in_range(cls, shares: list[float]) -> list[float]:
        bad = [s for s in shares if not 0 <= s < 1]
        if bad:
            raise ValueError(f"every general share must be in [0, 1); got {bad}")
        return shares


class Samples(Strict):
    """Sample generations shown side by side (base vs fine-tuned) in the report."""

    domain: int = Field(3, ge=0)  # prompts taken from the domain validation split
    general: list[str] = Field(default_factory=lambda: [
        "Explain in two sentences why the sky is blue.",
        "What is 17 multiplied by 3? Answer briefly.",
    ])
    max_new_tokens: int = Field(64, ge=1)


class RunConfig(Strict):
    """A whole run. Seed keys keep the seed's names; harness sections come after."""

    # --- model (the seed's step 1)
    base_model: str
    # Axolotl's class names, honoured: the transformers classes that load the model and
    # tokenizer (None: AutoModelForCausalLM / AutoTokenizer).
    model_type: str | None = Field(None, pattern=r"^[A-Za-z0-9]*ForCausalLM$")
    tokenizer_type: str | None = Field(None, pattern=r"^[A-Za-z0-9]*Tokenizer(Fast)?$")
    # How conversations are rendered: the tokenizer's own template, or one by name for a
    # base model without one (harness.data.chat_templates).
    chat_template: Literal["tokenizer_default", "tokenizer_default_fallback_chatml", "chatml", "qwen2", "llama3",
                           "mistral", "gemma", "jinja"] | None = None
    chat_template_jinja: str | None = None
    trust_remote_code: bool = False
    allow_pickle_weights: bool = False
    device: Literal["auto", "cpu", "cuda", "mps"] = "auto"
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = "auto"

    # --- data (the seed's step 3)
    datasets: list[DatasetSpec] = Field(default_factory=list)
    val_set_size: float = Field(0.1, ge=0, lt=1)
    sequence_len: int = Field(2048, ge=8)
    train_on: Literal["assistant", "all"] = "assistant"
    invalid_lines: Literal["fail", "skip"] = "fail"  # skip: bad lines go to a rejects file, counted
    over_length: Literal["fail", "truncate", "drop"] = "fail"  # examples longer than sequence_len
    special_tokens: dict[str, str] = Field(default_factory=dict)
    seed: int = 0

    # --- trainer (the seed's step 4)
    adapter: Literal["lora", "qlora"] | None = None
    trainer: ComponentRef | None = None  # defaults from ``adapter``: lora, qlora or full
    lora_r: int = Field(32, ge=1)
    lora_alpha: float = Field(64, gt=0)
    lora_dropout: float = Field(0.05, ge=0, lt=1)
    lora_target_modules: list[str] = Field(
        default_factory=lambda: ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
    )
    batch_size: int | None = Field(None, ge=1)  # the seed writes it beside micro_batch_size
    micro_batch_size: int = Field(2, ge=1)  # per rank: a step trains micro × accumulation × ranks
    gradient_accumulation_steps: int = Field(8, ge=1)  # per rank, too
    num_epochs: float = Field(3, gt=0)
    max_steps: int | None = Field(None, ge=1)
    learning_rate: float = Field(2e-4, gt=0)
    lr_scheduler: Literal["cosine", "linear", "constant", "constant_with_warmup", "cosine_with_restarts"] = "cosine"
    lr_scheduler_kwargs: LrSchedulerKwargs = Field(default_factory=LrSchedulerKwargs)
    warmup_steps: int | None = Field(None, ge=0)  # None: 5% of total steps (the seed's rule)
    # The bitsandbytes optimizers run on a CUDA GPU only (harness/hardware.py).
    optimizer: Literal["adamw_torch", "adamw_torch_fused", "adamw", "sgd", "adafactor", "adamw_bnb_8bit", "adamw_8bit",
                       "paged_adamw_8bit", "paged_adamw_32bit", "lion_8bit", "paged_lion_8bit",
                       "paged_lion_32bit"] = "adamw_torch"
    weight_decay: float = Field(0.0, ge=0)
    max_grad_norm: float = Field(1.0, gt=0)
    gradient_checkpointing: bool = False
    # Run each micro-batch as one packed row that computes the prompt prefix its rows
    # share (e.g. the system prompt) once; only where that is cheaper (harness/training/packing.py).
    shared_prefix_packing: bool = True
    bf16: bool | Literal["auto"] = "auto"
    fp16: bool = False
    # Full fine-tuning's weights and gradients: float32 (16 bytes a parameter with AdamW) or
    # bfloat16 (12; 6 with an 8-bit optimizer), updated exactly (training/lean_precision.py).
    # Axolotl's bfloat16: true. auto: float32 unless it cannot fit and bfloat16 can (memory plan).
    master_weights: Literal["auto", "float32", "bfloat16"] = "auto"
    tf32: bool | None = None
    output_dir: str = "./outputs/run"
    logging_steps: int = Field(10, ge=1)
    eval_steps: int | None = Field(None, ge=1)
    save_steps: int | None = Field(None, ge=1)
    save_total_limit: int | None = Field(None, ge=1)
    eval_batch_size: int = Field(4, ge=1)
    evals_per_epoch: int | None = Field(None, ge=1)
    early_stopping: EarlyStopping | None = None
    callbacks: list[CallbackSpec] = Field(default_factory=list)
    max_bad_steps: int = Field(3, ge=1)  # non-finite losses in a row before the run stops
    report_to: list[str] = Field(default_factory=list)
    # Axolotl's keys, with Axolotl's meaning (harness/axolotl.py says what becomes of the rest).
    warmup_ratio: float | None = Field(None, ge=0, lt=1)  # warmup as a share of total steps (warmup_steps wins)
    saves_per_epoch: int | None = Field(None, ge=1)  # checkpoints per epoch (save_steps wins)
    lora_target_linear: bool = False  # adapt every linear layer but the output head (PEFT's all-linear)
    lora_modules_to_save: list[str] = Field(default_factory=list)  # trained in full beside the adapter
    peft_use_dora: bool = False  # weight-decomposed LoRA
    peft_use_rslora: bool = False  # rank-stabilised scaling: lora_alpha / sqrt(r)
    load_in_8bit: bool = False  # LoRA over an 8-bit base (bitsandbytes, a CUDA GPU)
    load_in_4bit: bool = False  # a 4-bit base: what adapter: qlora does
    lora_model_dir: str | None = None  # train on from this PEFT adapter instead of a fresh one
    resume_from_checkpoint: str | None = None  # continue the first round from this transformers checkpoint
    attn_implementation: str | None = None  # the model's attention: eager, sdpa, flash_attention_2 ...
    gradient_checkpointing_kwargs: dict[str, Any] | None = None  # e.g. {use_reentrant: false}
    group_by_length: bool = True  # batches of similar length (less padding); false: plain shuffled order
    # Several examples to a row of up to sequence_len tokens, each seeing only itself (training/sample_packing.py).
    sample_packing: bool = False
    eval_sample_packing: bool | None = None  # the validation rows too; unset: as sample_packing
    pad_to_sequence_len: bool | None = None  # every micro-batch sequence_len wide; unset: as sample_packing
    dataset_prepared_path: str | None = None  # keep the tokenized rows here; a later run on the same data reuses them
    strict: bool = False  # Axolotl's: `--set` may change only keys the file sets (load_config)
    # Sharded training over the GPUs of one launch, in Axolotl's words (training/sharding.py).
    fsdp: list[str] | str | None = None  # e.g. [full_shard, auto_wrap]
    fsdp_config: dict[str, Any] | None = None
    fsdp_version: Literal[1, 2] | None = None
    hub_model_id: str | None = Field(None, pattern=r"^[\w.-]+/[\w.-]+$")  # publish here when the verdict passes
    deepspeed: str | dict[str, Any] | None = None  # a DeepSpeed JSON config (ZeRO), relative to the config's folder

    # --- harness sections
    benchmarks: Benchmarks = Field(default_factory=Benchmarks)
    forgetting: Forgetting = Field(default_factory=Forgetting)
    mitigation: Mitigation = Field(default_factory=Mitigation)
    reporters: list[ComponentRef] | None = None  # None: every registered reporter
    # Experiment trackers a finished run is sent to (mlflow, tensorboard, ...; harness/loop/tracking.py).
    trackers: list[ComponentRef] = Field(default_factory=list)
    samples: Samples = Field(default_factory=Samples)

    @model_validator(mode="after")
    def _fill_derived(self) -> RunConfig:
        if self.trainer is None:
            self.trainer = ComponentRef(name=self.adapter or "full")
        # The seed writes early stopping as a callback; keep one canonical place.
        if self.early_stopping is None:
            for callback in self.callbacks:
                if callback.type == "early_stopping":
                    self.early_stopping = EarlyStopping(patience=callback.patience, threshold=callback.threshold)
        if self.bf16 is True and self.fp16:
            raise ValueError("bf16 and fp16 are both true; choose one")
        if self.master_weights == "bfloat16" and (self.fp16 or self.bf16 is False):
            raise ValueError("master_weights: bfloat16 trains in bf16; it needs bf16: true or auto, not "
                             + ("fp16: true" if self.fp16 else "bf16: false"))
        if self.master_weights == "bfloat16" and self.optimizer in ("sgd", "adafactor"):
            raise ValueError(f"master_weights: bfloat16 with optimizer: {self.optimizer}: its updates would be "
                             "rounded away in bf16; allowed: adamw_torch (float32 moments, stochastic rounding) "
                             "or a bitsandbytes 8-bit optimizer")
        if (self.chat_template == "jinja") != bool(self.chat_template_jinja):
            raise ValueError("chat_template: jinja and chat_template_jinja go together (the template text "
                             "in chat_template_jinja)")
        if self.benchmarks.base_full and (self.forgetting.policy != "sequential" or self.forgetting.spending != "anytime"
                                          or self.forgetting.population != "benchmark"):
            raise ValueError("benchmarks.base_full draws the candidate's items by the base's margins, which the "
                             "sequential policy with spending: anytime and population: benchmark (the defaults) judges; "
                             f"here policy {self.forgetting.policy}, spending {self.forgetting.spending}, population "
                             f"{self.forgetting.population}")
        if self.load_in_4bit and self.trainer.name != "qlora":
            raise ValueError("load_in_4bit: true is QLoRA's 4-bit base: write adapter: qlora")
        if self.load_in_8bit and self.trainer.name not in ("lora", "ewc"):
            raise ValueError(f"load_in_8bit: true loads a frozen base for LoRA adapters; trainer "
                             f"{self.trainer.name!r} trains its weights (use adapter: lora)")
        allowed = {"bos_token", "eos_token", "pad_token", "unk_token", "sep_token", "cls_token", "mask_token"}
        unknown = sorted(set(self.special_tokens) - allowed)
        if unknown:
            raise ValueError(f"special_tokens: unknown role(s) {unknown}; allowed: {', '.join(sorted(allowed))}")
        return self

    # Where relative paths in the config are anchored (the config file's folder).
    _base_dir: Path = Path(".")
    # What became of keys accepted and ignored (Axolotl's, see harness.axolotl), one line each.
    _notes: list[str] = []

    def resolve_path(self, path: str) -> Path:
        p = Path(path).expanduser()
        return p if p.is_absolute() else (self._base_dir / p)
