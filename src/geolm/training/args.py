"""`TrainArgs`: every knob of a training run, validated up front so a typo fails before hours are spent."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

from geolm.errors import ConfigError, flag_name, unknown_names

MIXED_PRECISION = ("no", "bf16", "fp16")


@dataclass
class TrainArgs:
    """Settings of one run. `steps` is the length of the whole schedule; `stop_after` ends this process early.

    `compile` runs the model through `torch.compile` (inductor, via accelerate's dynamo plugin).
    `batch_size` is per device and per micro-step: one optimizer step sees
    `batch_size * grad_accum * num_processes` blocks. `clip` of 0 disables clipping; `eval_every`,
    `save_every` and `log_every` of 0 disable the periodic action (the end of the run still evaluates,
    saves and logs). `warmup_steps` defaults to `default_warmup(steps)` and never exceeds `steps`. `quiet`
    leaves the console alone (no progress bar, no messages: a caller showing its own progress, such as an
    experiment suite); metrics.jsonl and the trackers still get every record. `minutes` trains for a
    wall-clock budget: `steps` is then the schedule's first guess, fitted after a few timed steps to what
    the budget allows (`geolm.training.budget`), with the warmup shortened to match.
    """

    steps: int = 1000
    batch_size: int = 8
    grad_accum: int = 1
    lr: float = 3e-4
    min_lr_ratio: float = 0.1
    warmup_steps: int | None = None
    weight_decay: float = 0.1
    betas: tuple[float, float] = (0.9, 0.95)
    eps: float = 1e-8
    clip: float = 1.0
    mixed_precision: str = "no"
    gradient_checkpointing: bool = False
    compile: bool = False
    eval_every: int = 100
    eval_batches: int = 8
    save_every: int = 500
    stop_after: int | None = None
    seed: int = 0
    report_to: list[str] = field(default_factory=list)
    max_bad_steps: int = 8
    log_every: int = 10
    quiet: bool = False
    minutes: float | None = None

    def __post_init__(self) -> None:
        if isinstance(self.report_to, str):
            self.report_to = [] if self.report_to in ("", "none") else [self.report_to]
        self.report_to = list(self.report_to)
        self.betas = (float(self.betas[0]), float(self.betas[1]))
        if self.warmup_steps is None and _is_int(self.steps):
            self.warmup_steps = default_warmup(self.steps)
        self.validate()
        self.warmup_steps = min(self.warmup_steps, self.steps)

    def validate(self) -> None:
        """Raise one `ConfigError` naming the first bad key, its value and what is allowed."""
        for key in ("steps", "batch_size", "grad_accum", "eval_batches", "max_bad_steps"):
            _require(key, getattr(self, key), lambda v: _is_int(v) and v > 0, "a positive integer")
        for key in ("warmup_steps", "eval_every", "save_every", "log_every", "seed"):
            _require(key, getattr(self, key), lambda v: _is_int(v) and v >= 0, "a non-negative integer")
        _require("lr", self.lr, lambda v: v > 0, "positive")
        _require("min_lr_ratio", self.min_lr_ratio, lambda v: 0 <= v <= 1, "in [0, 1]")
        _require("weight_decay", self.weight_decay, lambda v: v >= 0, "non-negative")
        _require("eps", self.eps, lambda v: v > 0, "positive")
        _require("clip", self.clip, lambda v: v >= 0, "non-negative (0 disables clipping)")
        _require("betas", self.betas, lambda v: all(0 <= b < 1 for b in v), "two numbers in [0, 1)")
        _require(
            "mixed_precision",
            self.mixed_precision,
            lambda v: v in MIXED_PRECISION,
            f"one of {MIXED_PRECISION}",
        )
        _require("minutes", self.minutes, lambda v: v is None or v > 0, "None or a positive number of minutes")
        _require(
            "stop_after",
            self.stop_after,
            lambda v: v is None or (_is_int(v) and v > 0),
            "None or a positive integer",
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def short_run(cls, steps: int, batch_size: int, lr: float, seed: int = 0, logs: int = 20) -> TrainArgs:
        """An experiment's run: warm-up over a tenth of the steps, no periodic evaluation or checkpoint, about
        `logs` log records."""
        return cls(
            steps=steps,
            batch_size=batch_size,
            lr=lr,
            warmup_steps=max(1, steps // 10),
            eval_every=0,
            save_every=0,
            log_every=max(1, steps // logs),
            seed=seed,
        )

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainArgs:
        """Build from a JSON-like dict, refusing unknown keys (a misspelt key would silently do nothing)."""
        allowed = [f.name for f in fields(cls)]
        unknown = sorted(set(data) - set(allowed))
        if unknown:
            raise ConfigError(unknown_names("train arg", unknown, allowed))
        return cls(**data)


def default_warmup(steps: int) -> int:
    """A tenth of the run, at most 100 steps, so a short run still spends most of its steps decaying."""
    return min(100, steps // 10)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _require(key: str, value: Any, ok: Any, allowed: str) -> None:
    try:
        good = bool(ok(value))
    except TypeError:
        good = False
    if not good:
        raise ConfigError(f"{flag_name(key)} must be {allowed}, got {value!r}")
