"""The run config: the seed's Axolotl-style keys plus the harness's own sections.

Validation runs in two passes, both before any model or data is loaded:
1. structure and types (pydantic, unknown keys rejected), and
2. components: every named trainer, benchmark, mixer, formatter, policy and
   reporter must be registered, and its options must satisfy that plugin's own
   typed ``Options`` model.
Every problem is collected and reported with its key path, the bad value and
what is allowed, so a user fixes a config in one pass.
"""

from __future__ import annotations

import re
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from harness.api import UsageError
from harness.plugins import Harness, closest, unknown_name_message


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
    # The sequential policy scores general benchmarks in looks: first_look items, then
    # doubling, up to max_items, and stops each benchmark as soon as it is decided.
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


@dataclass(frozen=True)
class ConfigIssue:
    """One problem in a config: where, what was there, and what is allowed."""

    path: str
    message: str
    value: Any = None
    has_value: bool = False

    def __str__(self) -> str:
        shown = f" (got {self.value!r})" if self.has_value else ""
        return f"{self.path or '<root>'}: {self.message}{shown}"


class ConfigError(UsageError):
    """An invalid config; carries every issue found."""

    def __init__(self, source: str, issues: list[ConfigIssue]) -> None:
        self.source = source
        self.issues = issues
        lines = "\n".join(f"  - {issue}" for issue in issues)
        super().__init__(f"{source}: invalid config ({len(issues)} problem{'s' * (len(issues) != 1)}):\n{lines}")


def _dotted(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _model_at(model: type[BaseModel], loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The pydantic model class that a location inside ``model`` points to, if any."""
    current: Any = model
    for part in loc:
        if isinstance(part, int):
            continue
        if not (isinstance(current, type) and issubclass(current, BaseModel)) or part not in current.model_fields:
            return None
        current = _unwrap(current.model_fields[part].annotation)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _unwrap(annotation: Any) -> Any:
    """list[X], X | None and friends -> the model class X, where there is one."""
    for arg in typing.get_args(annotation) or ():
        found = _unwrap(arg)
        if isinstance(found, type) and issubclass(found, BaseModel):
            return found
    return annotation


def _really_close(name: str, known: list[str]) -> str | None:
    """A did-you-mean only for a near miss (a typo), never for a merely similar name
    (``deepspeed`` is not ``seed``, ``group_by_length`` is not ``over_length``)."""
    import difflib

    matches = difflib.get_close_matches(name, known, n=1, cutoff=0.8)
    return matches[0] if matches else None


def _issues_from_validation(error: ValidationError, root: type[BaseModel], prefix: tuple = ()) -> list[ConfigIssue]:
    issues = []
    unhinted: dict[str, list[str]] = {}  # section -> its keys, listed once after its unknown keys
    for err in error.errors():
        loc = tuple(prefix) + tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
        # Unions report each branch; keep the user's path readable.
        loc = tuple(p for p in loc if p not in ("str", "bool", "literal['auto']", "float", "int"))
        if err["type"] == "extra_forbidden":
            parent = _model_at(root, tuple(err["loc"])[:-1])
            known = sorted(parent.model_fields) if parent else []
            hint = _really_close(str(loc[-1]), known)
            issues.append(ConfigIssue(_dotted(loc), "unknown key" + (f"; did you mean {hint!r}?" if hint else "")))
            if known and not hint:
                unhinted.setdefault(_dotted(loc[:-1]), known)
        else:
            message = err["msg"]
            if err["type"] == "literal_error" and isinstance(err.get("input"), str):
                allowed = re.findall(r"'([^']*)'", str(err.get("ctx", {}).get("expected", "")))
                hint = closest(err["input"], allowed)
                message += f"; did you mean {hint!r}?" if hint else ""
            shown = "input" in err and err["type"] != "missing"  # a missing key's "input" is the whole parent
            issues.append(ConfigIssue(_dotted(loc), message, err.get("input"), shown))
    for section, known in unhinted.items():
        issues.append(ConfigIssue(section, f"the keys it takes: {', '.join(known)}"))
    return issues


def _component_issues(config: RunConfig, harness: Harness) -> list[ConfigIssue]:
    """Second pass: named components exist and their options fit their plugin's model."""
    checks: list[tuple[str, str, ComponentRef]] = [
        ("trainer", "trainer", config.trainer),  # type: ignore[list-item]
        ("mitigation.mixer", "mixer", config.mitigation.mixer),
        ("mitigation.policy", "policy", config.mitigation.policy),
    ]
    checks += [(f"reporters[{i}]", "reporter", ref) for i, ref in enumerate(config.reporters or [])]
    checks += [(f"trackers[{i}]", "tracker", ref) for i, ref in enumerate(config.trackers)]
    for section in ("general", "domain"):
        refs = getattr(config.benchmarks, section)
        checks += [(f"benchmarks.{section}[{i}]", "benchmark", ref) for i, ref in enumerate(refs)]
    issues = []
    valid: dict[str, tuple[Any, Any]] = {}  # path -> (component class, its validated options)
    for path, kind, ref in checks:
        catalog = harness.catalogs[kind]
        if ref.name not in catalog:
            issues.append(ConfigIssue(f"{path}.name" if ref.options else path,
                                      unknown_name_message(kind, ref.name, catalog.names())))
            continue
        component = catalog.get(ref.name)
        try:
            options = component.Options.model_validate(ref.options)
            valid[path] = component, options
        except ValidationError as error:
            issues += _issues_from_validation(error, component.Options, prefix=tuple(path.split(".")))
            continue
        if kind == "policy":
            issues += _chained_policy_issues(path, ref.name, options, harness)
    issues += _rehearsal_issues(config, harness, valid)
    for i, spec in enumerate(config.datasets + config.mitigation.general_data):
        where = f"datasets[{i}]" if i < len(config.datasets) else f"mitigation.general_data[{i - len(config.datasets)}]"
        if spec.type and spec.type not in harness.catalogs["formatter"]:
            issues.append(ConfigIssue(f"{where}.type", unknown_name_message(
                "formatter", spec.type, harness.catalogs["formatter"].names())))
        elif spec.formatter_options():
            # Axolotl's chat_template keys are the formatter's options: checked before any data is read.
            formatter = harness.catalogs["formatter"].get(spec.type or "chat_template")
            try:
                formatter.Options.model_validate(spec.formatter_options())
            except ValidationError as error:
                issues += [ConfigIssue(f"{where}.{'.'.join(map(str, e['loc']))}",
                                       "only type: chat_template reads this key" if e["type"] == "extra_forbidden"
                                       else e["msg"]) for e in error.errors()]
    if config.benchmarks.suite is not None:
        if config.benchmarks.suite not in harness.suites:
            issues.append(ConfigIssue("benchmarks.suite", unknown_name_message(
                "suite", config.benchmarks.suite, harness.suites)))
    return issues


def _chained_policy_issues(path: str, name: str, options: Any, harness: Harness) -> list[ConfigIssue]:
    """A policy's ``then`` (the policy it hands over to) exists, fits its options and is no loop."""
    chain = [name]
    while getattr(options, "then", None):
        follower = options.then
        if follower in chain:
            return [ConfigIssue(f"{path}.then", f"{follower!r} hands over to itself ({' -> '.join([*chain, follower])})")]
        catalog = harness.catalogs["policy"]
        if follower not in catalog:
            return [ConfigIssue(f"{path}.then", unknown_name_message("policy", follower, catalog.names()))]
        cls = catalog.get(follower)
        try:
            options = cls.Options.model_validate(getattr(options, "then_options", {}) or {})
        except ValidationError as error:
            return _issues_from_validation(error, cls.Options, prefix=(*path.split("."), "then_options"))
        chain.append(follower)
    return []


def _rehearsal_issues(config: RunConfig, harness: Harness, valid: dict[str, tuple[Any, Any]]) -> list[ConfigIssue]:
    """``rehearses`` names this run's general benchmarks, and the mixer reads it (and only then)."""
    specs = config.mitigation.general_data
    general = [cls.identity(options) for path, (cls, options) in valid.items()
               if path.startswith("benchmarks.general[")]
    if not config.benchmarks.general and config.benchmarks.suite in harness.suites:
        catalog = harness.catalogs["benchmark"]
        general = [catalog.get(n).name for n in harness.suite(config.benchmarks.suite).benchmarks if n in catalog]
    issues = []
    for i, spec in enumerate(specs):
        for j, target in enumerate(spec.rehearses):
            benchmark, _, group = target.partition("/")
            where = f"mitigation.general_data[{i}].rehearses[{j}]"
            if benchmark not in general:
                hint = closest(benchmark, general)
                issues.append(ConfigIssue(where, (
                    f"unknown benchmark {benchmark!r}: rehearses names general benchmarks of this run "
                    f"({', '.join(sorted(general)) or 'none'}), each optionally as benchmark/group"
                    + (f"; did you mean {hint!r}?" if hint else "")), target, True))
            elif "/" in target and not group:
                issues.append(ConfigIssue(where, "the group after '/' is empty", target, True))
    if "mitigation.mixer" not in valid:
        return issues
    mixer_class, mixer_options = valid["mitigation.mixer"]
    mixer = mixer_class(mixer_options)  # a mixer is built for reads_rehearses alone; it loads nothing
    rehearsing = [i for i, spec in enumerate(specs) if spec.rehearses]
    if rehearsing and not mixer.reads_rehearses():
        issues.append(ConfigIssue(
            f"mitigation.general_data[{rehearsing[0]}].rehearses",
            f"mixer {mixer.name!r} as configured does not weight sources by forgetting, so rehearses would be "
            f"ignored; use a mixer that does (weighted with by_forgetting: true) or remove rehearses"))
    if mixer.reads_rehearses() and not rehearsing:
        issues.append(ConfigIssue(
            "mitigation.mixer", "this mixer weights general sources by what the last round forgot, but no "
            "mitigation.general_data entry says what it rehearses (rehearses: [<general benchmark>, ...])"))
    return issues


def parse_config(data: Any, harness: Harness, source: str = "<config>", base_dir: Path | None = None) -> RunConfig:
    """Validate a config mapping fully; raise :class:`ConfigError` listing every problem."""
    from harness.axolotl import translate

    if not isinstance(data, dict):
        raise ConfigError(source, [ConfigIssue("", "the config must be a mapping of keys to values", data, True)])
    # Axolotl's keys: empty ones unset, the rest honoured, ignored with a note, or refused (harness.axolotl).
    translation = translate(data, set(RunConfig.model_fields))
    refused = [ConfigIssue(path, message, value, True) for path, message, value in translation.refused]
    try:
        config = RunConfig.model_validate(translation.data)
    except ValidationError as error:
        raise ConfigError(source, refused + _issues_from_validation(error, RunConfig)) from None
    if refused:
        raise ConfigError(source, refused)
    config._base_dir = base_dir or Path(".")
    config._notes = translation.notes
    issues = _component_issues(config, harness)
    if issues:
        raise ConfigError(source, issues)
    return config


def hardware_notes(config: RunConfig) -> list[str]:
    """Settings this machine cannot honour well, said before any work starts."""
    if config.bf16 is not True:
        return []
    from harness.models.loading import cpu_supports_bf16, pick_device

    try:
        device = pick_device(config.device)
    except UsageError:
        return []  # the device itself is refused elsewhere
    if device == "cpu" and not cpu_supports_bf16():
        # Measured on a 2-core AMD EPYC without AVX-512: transformers' Trainer with bf16 had not finished
        # 10 LoRA steps on SmolLM2 in 15 minutes, which fp32 trains in about 2.
        return ["bf16: true on a CPU without native bf16 (no AVX512-BF16 or AMX): every bf16 operation is emulated, "
                "several times slower than fp32; use bf16: auto (bf16 where the hardware computes it, else fp32)"]
    return []


def load_config(path: str | Path, harness: Harness, overrides: dict[str, Any] | None = None) -> RunConfig:
    """Read a YAML config file and validate it (nothing is loaded besides the YAML)."""
    path = Path(path)
    if not path.is_file():
        raise UsageError(f"config file not found: {path}")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f":{mark.line + 1}:{mark.column + 1}" if mark else ""
        raise UsageError(f"{path}{where}: not valid YAML: {getattr(error, 'problem', error)}") from None
    if overrides:
        if isinstance(data, dict) and data.get("strict"):
            absent = [key for key in _leaf_paths(overrides) if not _has_path(data, key)]
            if absent:
                raise ConfigError(str(path), [ConfigIssue(key, "--set names a key the file does not set, and the "
                                                               "file says strict: true (only keys it sets may be "
                                                               "changed from the command line)") for key in absent])
        data = deep_merge(data or {}, overrides)
    return parse_config(data, harness, source=str(path), base_dir=path.resolve().parent)


def parse_overrides(pairs: list[str] | None) -> dict[str, Any]:
    """``--set KEY=VALUE`` pairs as a nested mapping: ``forgetting.threshold=0.03`` sets a key inside a
    section; values are read as YAML (``1e-4``, ``true``, ``[q_proj, v_proj]``)."""
    merged: dict[str, Any] = {}
    for pair in pairs or []:
        key, equals, text = pair.partition("=")
        if not equals or not key.strip() or any(not part for part in key.strip().split(".")):
            raise UsageError(f"--set {pair!r}: expected KEY=VALUE, e.g. --set learning_rate=1e-4")
        try:
            value = yaml.safe_load(text) if text.strip() else None
        except yaml.YAMLError:
            value = text
        if isinstance(value, str) and re.fullmatch(r"[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+", value.strip()):
            value = float(value)  # YAML 1.1 reads 1e-4 as text; on the command line it is a number
        for part in reversed(key.strip().split(".")):
            value = {part: value}
        merged = deep_merge(merged, value)
    return merged


def _leaf_paths(mapping: dict[str, Any], prefix: str = "") -> list[str]:
    paths = []
    for key, value in mapping.items():
        path = f"{prefix}{key}"
        paths += _leaf_paths(value, path + ".") if isinstance(value, dict) and value else [path]
    return paths


def _has_path(data: Any, dotted: str) -> bool:
    for part in dotted.split("."):
        if not isinstance(data, dict) or part not in data:
            return False
        data = data[part]
    return True


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``base`` with ``override`` laid over it, mappings merged key by key."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def missing_paths(config: RunConfig) -> list[str]:
    """Local data files the config names that do not exist (hub names are skipped)."""
    from harness.data.sources import bare_hub_id

    missing = []
    for spec in config.datasets + config.mitigation.general_data:
        if "://" in spec.path or spec.path.startswith("builtin:") or bare_hub_id(spec.path, config.resolve_path(".")):
            continue
        if not config.resolve_path(spec.path).exists():
            missing.append(spec.path)
    return missing


def hub_names(config: RunConfig) -> list[str]:
    """Models and data sets the config names on the Hugging Face Hub (read at run time, so online only)."""
    from harness.data.sources import bare_hub_id, is_hub
    from harness.models.loading import resolve_model

    base = config.resolve_path(".")
    names = [spec.path for spec in config.datasets + config.mitigation.general_data
             if is_hub(spec.path) or bare_hub_id(spec.path, base)]
    try:
        model_on_hub = resolve_model(config.base_model, base).kind == "hub"
    except UsageError:
        model_on_hub = False  # a local path that does not exist: said when the run loads it
    return [config.base_model, *names] if model_on_hub else names

