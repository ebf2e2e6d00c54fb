"""The one training loop of geolm, read top to bottom.

`train` wires the components (each in its own module: optimizer and parameter groups, schedule, data
order, checkpoints, metrics, accelerator) and `Trainer.run` steps through the schedule: pick the phase,
set learning rates, run the micro-batches, check for non-finite values, step, log, evaluate, save.
"""

from __future__ import annotations

import inspect
import math
import re
import time
from collections.abc import Callable, Mapping
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from accelerate import Accelerator
from accelerate.utils import broadcast, set_seed
from torch import nn

from geolm.data.packing import IGNORE
from geolm.errors import CheckpointError, ConfigError, TrainingError
from geolm.metrics import model_metrics
from geolm.systems import register_training
from geolm.training.accel import make_accelerator
from geolm.training.args import TrainArgs, default_warmup
from geolm.training.budget import TimeBudget
from geolm.training.checkpoint import (
    BEST,
    LAST,
    PHASE_PREFIX,
    read_checkpoint,
    recover_interrupted,
    restore_training_state,
    resume_checkpoint,
    save_checkpoint,
    vocab_fingerprint,
)
from geolm.training.curriculum import Curriculum, Phase
from geolm.training.data import BatchStream, Blocks, as_sources, eval_batches, loss_tokens
from geolm.training.losses import LOSSES
from geolm.training.metrics import RunLog, plot_losses
from geolm.training.optim import build_optimizer, set_learning_rates
from geolm.training.schedule import lr_factor


@dataclass
class TrainResult:
    """What a call to `train` did; `losses` maps each step it ran (1-based) to its loss (NaN if skipped)."""

    step: int
    losses: dict[int, float]
    best_val_loss: float | None
    run_dir: Path
    last_checkpoint: Path | None
    best_checkpoint: Path | None
    skipped_steps: int


@dataclass
class RunState:
    """The loop's counters, saved in trainer_state/state.json."""

    step: int = 0
    best_val_loss: float | None = None
    phase_index: int = -1
    skipped_steps: int = 0


@dataclass
class StepOutcome:
    loss: float
    terms: dict[str, float]
    grad_norm: float
    status: str  # "ok", "overflow" (fp16 scaler skipped the update) or "nonfinite"
    stats: dict[str, float] = field(default_factory=dict)


def train(
    model: nn.Module,
    train_data: Blocks | Mapping[str, Blocks],
    val_data: Blocks | None,
    args: TrainArgs,
    run_dir: str | Path,
    *,
    tokenizer: Any = None,
    curriculum: Curriculum | None = None,
    resume: str | Path | None = None,
    start_phase: str | int | None = None,
    on_step: Callable[[int, float], None] | None = None,
) -> TrainResult:
    """Train `model` (any HF causal LM taking `input_ids` and `labels`) and write checkpoints to `run_dir`.

    `train_data` is one source of blocks (`TokenBlocks` in memory, `ShardBlocks` on disk) or named sources
    for curriculum mixtures; `resume` is None (start fresh), "auto" (RUN_DIR/last if it exists) or a
    checkpoint or run directory. `start_phase` (a name or
    number) starts at that phase's first step from the `resume` checkpoint, skipping the phases before it.
    `on_step(step, loss)` is called after every step (a caller's own progress display, with `quiet` args).
    """
    run_dir = Path(run_dir)
    register_training()  # every system's loss terms, so a curriculum may name any of them
    curriculum = curriculum or Curriculum.baseline()
    sources = as_sources(train_data)
    aux_defaults = default_loss_weights(model)
    curriculum.validate(list(sources), [name for name, _ in model.named_parameters()], aux_defaults)
    check_phase_settings(model, curriculum)
    start_index = curriculum.find(start_phase) if start_phase is not None else None
    run_dir.mkdir(parents=True, exist_ok=True)
    accelerator = make_accelerator(args, run_dir, find_unused=any(p.freeze for p in curriculum.phases))
    if accelerator.is_main_process:
        recover_interrupted(run_dir)
    accelerator.wait_for_everyone()
    set_seed(args.seed, device_specific=True)
    if args.gradient_checkpointing:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    optimizer = build_optimizer(model, curriculum, args)
    stream = BatchStream(sources, args.seed)
    state = RunState()
    ckpt = resume_checkpoint(resume, run_dir)
    if ckpt is None:
        if start_index:
            raise CheckpointError(f"starting at phase {start_phase!r} needs a checkpoint to start from (--resume)")
        refuse_to_overwrite(run_dir)
    else:
        saved = read_checkpoint(ckpt, model, tokenizer)
        state = RunState(**{key: saved[key] for key in asdict(state)})
        stream.load_state(saved["data"])
        if start_index is not None:
            state = skip_to_phase(state, curriculum, start_index, args.steps, ckpt)
    run_config = {
        "train_args": args.to_dict(),
        "model_config": model.config.to_dict() if hasattr(model, "config") else None,
        "curriculum": curriculum.to_dict(),
        "num_processes": accelerator.num_processes,
    }
    model, optimizer = accelerator.prepare(model, optimizer)
    if ckpt is not None:
        restore_training_state(ckpt, accelerator, model, optimizer)
    trainer = Trainer(
        accelerator,
        model,
        optimizer,
        stream,
        val_data,
        args,
        curriculum,
        run_dir,
        tokenizer,
        state,
        run_config,
        on_step,
    )
    if ckpt is not None:
        trainer.say_resumed(ckpt)
    return trainer.run()


def default_loss_weights(model: nn.Module) -> dict[str, float]:
    """The auxiliary losses a geolm model's parts declare, with their default weights ({} for other models)."""
    declared = getattr(model, "default_loss_weights", None)
    return declared() if callable(declared) else {}


def check_phase_settings(model: nn.Module, curriculum: Curriculum) -> None:
    """Every phase's `part_settings` must fit the model's parts, checked before any step runs."""
    for i, phase in enumerate(curriculum.phases):
        if not phase.part_settings:
            continue
        if not hasattr(model, "check_part_settings"):
            raise ConfigError(f"curriculum phase {i} ({phase.name!r}): part_settings need a geolm model")
        try:
            model.check_part_settings(phase.part_settings)
        except ConfigError as err:
            raise ConfigError(f"curriculum phase {i} ({phase.name!r}): {err}") from None


def skip_to_phase(state: RunState, curriculum: Curriculum, index: int, steps: int, ckpt: Path) -> RunState:
    """The run state that starts phase `index` from a checkpoint saved at or before its first step."""
    first = curriculum.start(index, steps)
    if state.step > first:
        raise CheckpointError(
            f"{ckpt} is at step {state.step}, past the start of phase {index} "
            f"({curriculum.phases[index].name!r}, step {first}); resume from it without a start phase"
        )
    return RunState(step=first, best_val_loss=state.best_val_loss, phase_index=index - 1, skipped_steps=0)


def refuse_to_overwrite(run_dir: Path) -> None:
    """A fresh start would replace the checkpoints a run dir already holds; make that a decision, not an accident."""
    names = [LAST, BEST, *sorted(p.name for p in run_dir.glob(f"{PHASE_PREFIX}*"))]
    held = [name for name in names if existing_checkpoint(run_dir / name)]
    if held:
        raise CheckpointError(
            f"{run_dir} already holds checkpoint(s) {', '.join(held)}; resume it with --resume auto "
            "(resume='auto' in Python) or choose another --out"
        )


@dataclass
class Trainer:
    """The loop over optimizer steps; built by `train`, which owns setup and resume."""

    accelerator: Accelerator
    model: nn.Module
    optimizer: torch.optim.Optimizer
    stream: BatchStream
    val_data: Blocks | None
    args: TrainArgs
    curriculum: Curriculum
    run_dir: Path
    tokenizer: Any
    state: RunState
    run_config: dict[str, Any]
    on_step: Callable[[int, float], None] | None = None

    def __post_init__(self) -> None:
        self.raw_model = self.accelerator.unwrap_model(self.model)
        global_batch = self.args.batch_size * self.accelerator.num_processes
        self.val_batches = (
            eval_batches(self.val_data, global_batch, self.args.eval_batches) if self.val_data is not None else []
        )
        accepts_use_cache = "use_cache" in inspect.signature(self.raw_model.forward).parameters
        self.base_kwargs = {"use_cache": False} if accepts_use_cache else {}  # no KV cache while training
        self.aux_defaults = default_loss_weights(self.raw_model)
        self.trainable = {name for name, p in self.raw_model.named_parameters() if p.requires_grad}
        self.applied_phase = -1
        self.bad_streak = 0
        self.lr = 0.0
        self.losses: dict[int, float] = {}
        self.log = RunLog(self.run_dir, self.accelerator, self.state.step, self.args.steps, quiet=self.args.quiet)
        self.budget = TimeBudget(self.args.minutes * 60) if self.args.minutes else None

    def run(self) -> TrainResult:
        args = self.args
        tokens_per_step = args.batch_size * args.grad_accum * self.accelerator.num_processes * self.stream_block()
        self.model.train()
        first_step = self.state.step
        try:
            with self.log:
                while self.state.step < args.steps:
                    phase = self.enter_phase(self.state.step)
                    self.lr = self.scheduled_lr(self.state.step, phase)
                    set_learning_rates(self.optimizer, self.lr, phase)
                    started = time.perf_counter()
                    outcome = self.train_step(self.state.step, phase)
                    tokens_per_s = tokens_per_step / max(time.perf_counter() - started, 1e-9)
                    self.state.step += 1
                    self.account(outcome, tokens_per_s)
                    if self.budget is not None:
                        self.fit_to_budget(self.state.step - first_step)
                    if self.on_step is not None:
                        self.on_step(self.state.step, self.losses[self.state.step])
                    self.maybe_evaluate_and_save()
                    if self.state.step == args.stop_after:
                        break
            if self.accelerator.is_main_process:
                plot_losses(self.run_dir)
        finally:
            self.accelerator.end_training()
            # mixed precision wrapped the caller's model's forward in autocast: after training it computes in
            # its own precision again (decoding, evaluation and saving in float32 see float32 logits)
            self.accelerator.unwrap_model(self.model, keep_fp32_wrapper=False)
        return TrainResult(
            step=self.state.step,
            losses=self.losses,
            best_val_loss=self.state.best_val_loss,
            run_dir=self.run_dir,
            last_checkpoint=existing_checkpoint(self.run_dir / LAST),
            best_checkpoint=existing_checkpoint(self.run_dir / BEST),
            skipped_steps=self.state.skipped_steps,
        )

    def fit_to_budget(self, run: int) -> None:
        """Once the probe steps are timed, make the schedule as long as the time budget allows (the same count
        on every process: the main process's measurement is broadcast)."""
        allowed = self.budget.steps_allowed(run, self.state.step)
        if allowed is None:
            return
        agreed = torch.tensor([allowed], device=self.accelerator.device)
        allowed = int(broadcast(agreed)[0]) if self.accelerator.num_processes > 1 else allowed
        self.args.steps = allowed
        self.args.warmup_steps = min(self.args.warmup_steps, default_warmup(allowed))
        self.log.set_total(allowed)
        minutes = f"{self.args.minutes:g}-minute"
        self.log.say(f"step {self.state.step}: the {minutes} budget allows {allowed} steps; schedule fitted to them")
        self.log.record({"step": self.state.step, "event": "budget", "steps": allowed})

    def say_resumed(self, ckpt: Path) -> None:
        """Where a resumed run picks up: the checkpoint, the step and the phase of that step."""
        index = self.curriculum.phase_index(self.state.step, self.args.steps)
        name = self.curriculum.phases[index].name
        self.log.say(f"resuming {ckpt} at step {self.state.step} of {self.args.steps}, phase {index} {name!r}")

    def stream_block(self) -> int:
        return next(iter(self.stream.sources.values())).block_size

    def due(self, every: int) -> bool:
        return every > 0 and self.state.step % every == 0

    def scheduled_lr(self, step: int, phase: Phase) -> float:
        """The run's warmup and cosine, or the phase's own `lr_schedule` over the phase's steps."""
        args, plan = self.args, phase.lr_schedule
        if plan is None:
            return args.lr * lr_factor(step, args.steps, args.warmup_steps, args.min_lr_ratio)
        index = self.applied_phase
        first, end = self.curriculum.start(index, args.steps), self.curriculum.ends(args.steps)[index]
        return plan.peak * lr_factor(step - first, end - first, plan.warmup_steps, plan.min_lr_ratio)

    def enter_phase(self, step: int) -> Phase:
        """The phase of `step`; on a change (or a resume into it), freeze what the phase freezes, hand its
        settings to the model's parts and log the transition.

        A frozen parameter stops requiring gradients, so backward skips it, the optimizer leaves it alone
        (no gradient, no weight decay) and DDP's reducer, built with `find_unused_parameters`, passes it by.
        """
        index = self.curriculum.phase_index(step, self.args.steps)
        phase = self.curriculum.phases[index]
        if index != self.applied_phase:
            for name, param in self.raw_model.named_parameters():
                param.requires_grad_(name in self.trainable and not self.curriculum.is_frozen(phase, name))
            if hasattr(self.raw_model, "set_part_settings"):
                self.raw_model.set_part_settings(phase.part_settings)
            self.applied_phase = index
            if index != self.state.phase_index:  # a transition, not a resume into the phase already logged
                self.state.phase_index = index
                self.log.record({"step": step, "event": "phase", "phase": phase.name, "index": index})
                losses = ", ".join(f"{name} {weight:g}" for name, weight in phase.losses.items())
                self.log.say(f"step {step}: phase {index} {phase.name!r} (losses: {losses})")
        return phase

    def train_step(self, step: int, phase: Phase) -> StepOutcome:
        """Forward/backward over `grad_accum` micro-batches, then clip and step unless a value is non-finite.

        Each micro-batch is weighted by its share of the loss tokens of the whole global batch, so the
        gradient equals that of one big batch whatever the split over micro-steps and processes.
        """
        acc, args = self.accelerator, self.args
        world, rank, size = acc.num_processes, acc.process_index, args.batch_size
        mine = slice(rank * size, (rank + 1) * size)  # each process reads only its own rows
        micro = [self.stream.next_batch(size * world, phase.mixture, step, m, mine) for m in range(args.grad_accum)]
        own_tokens = torch.tensor(sum(loss_tokens(b["labels"]) for b in micro), device=acc.device)
        window_tokens = max(int(acc.reduce(own_tokens, "sum")), 1)  # loss tokens of the whole global batch
        terms = [n for n in phase.losses if n in LOSSES]
        aux = sorted(self.aux_defaults)
        names = terms + aux
        weights = [phase.losses[n] for n in terms] + [phase.losses.get(n, self.aux_defaults[n]) for n in aux]
        weight_vector = torch.tensor(weights, device=acc.device)
        totals = torch.zeros(len(names) + 1, device=acc.device)
        stats = StatSums()
        for m, batch in enumerate(micro):
            local = {k: v.to(acc.device) for k, v in batch.items()}
            share = loss_tokens(local["labels"]) * world / window_tokens
            last_micro = m == args.grad_accum - 1  # gradients are all-reduced once, after the last micro-step
            with nullcontext() if last_micro else acc.no_sync(self.model):
                with acc.autocast():
                    outputs = self.model(**local, **self.base_kwargs)
                    values = self.loss_values(terms, aux, local, outputs)
                    loss = (values * weight_vector).sum()
                acc.backward(loss * share)
            totals += share * torch.cat([loss.detach()[None], values.detach()])
            labels = local["labels"]
            real = local["attention_mask"].bool() if labels.dim() == 1 else labels != IGNORE
            stats.add(getattr(outputs, "part_stats", None), real)
        totals = (acc.reduce(totals, "sum") / world).tolist()  # token-weighted means over the global batch
        grad_norm = float(acc.clip_grad_norm_(self.model.parameters(), args.clip or math.inf))
        status = self.apply_update(math.isfinite(totals[0]), math.isfinite(grad_norm))
        terms_out = dict(zip(names, totals[1:], strict=True))
        return StepOutcome(totals[0], terms_out, grad_norm, status, stats.reduced(acc))

    def loss_values(self, terms: list[str], aux: list[str], batch: dict, outputs: Any) -> torch.Tensor:
        """The registered loss terms of the phase, then every auxiliary loss the parts declare (0 if not added)."""
        values = [LOSSES.get(n)(self.raw_model, batch, outputs).float() for n in terms]
        added = getattr(outputs, "aux_losses", None) or {}
        zero = outputs.loss.new_zeros(())
        values += [added[n].float() if n in added else zero for n in aux]
        return torch.stack(values)

    def apply_update(self, finite_loss: bool, finite_grads: bool) -> str:
        """Step the optimizer, or skip a non-finite step; under fp16 an overflow is the scaler's to skip."""
        scaler = self.accelerator.scaler
        if finite_loss and (finite_grads or scaler is not None):
            self.optimizer.step()  # with fp16 the scaler skips the update and lowers its scale on overflow
            status = "ok" if finite_grads else "overflow"
        else:
            if scaler is not None:
                scaler.update()  # the gradients were unscaled for clipping; close that scaler round
            status = "nonfinite"
        self.optimizer.zero_grad(set_to_none=True)
        return status

    def account(self, outcome: StepOutcome, tokens_per_s: float) -> None:
        """Record the step; count non-finite steps and stop after `max_bad_steps` of them in a row."""
        step = self.state.step
        self.losses[step] = outcome.loss if outcome.status != "nonfinite" else math.nan
        if outcome.status == "nonfinite":
            self.bad_streak += 1
            self.state.skipped_steps += 1
            self.log.record({"step": step, "event": "nonfinite", "loss": outcome.loss, "grad_norm": outcome.grad_norm})
            self.log.say(f"step {step}: non-finite loss or gradient, update skipped ({self.bad_streak} in a row)")
            if self.bad_streak >= self.args.max_bad_steps:
                last = existing_checkpoint(self.run_dir / LAST) or "none saved yet"
                raise TrainingError(
                    f"{self.bad_streak} non-finite steps in a row (up to step {step}, max_bad_steps="
                    f"{self.args.max_bad_steps}); stopped. Last good checkpoint: {last}"
                )
            return
        self.bad_streak = 0
        self.log.advance(step, outcome.loss, tokens_per_s)
        if self.due(self.args.log_every) or step == self.args.steps:
            record = {"step": step, "loss": outcome.loss, "lr": self.lr, "tokens_per_s": tokens_per_s}
            record.update(grad_norm=outcome.grad_norm, overflow=outcome.status == "overflow")
            record.update({f"loss/{name}": value for name, value in outcome.terms.items()})
            record.update(outcome.stats)
            record.update(model_metrics(self.raw_model))
            self.log.record(record)

    def maybe_evaluate_and_save(self) -> None:
        args, step = self.args, self.state.step
        final = step == args.steps
        if self.val_batches and (self.due(args.eval_every) or final):
            val_loss = self.evaluate()
            ppl = float(torch.tensor(val_loss).exp())
            self.log.record({"step": step, "val_loss": val_loss, "val_ppl": ppl})
            self.log.say(f"step {step}: val loss {val_loss:.4f}, perplexity {ppl:.2f}")
            if self.state.best_val_loss is None or val_loss < self.state.best_val_loss:
                self.state.best_val_loss = val_loss
                self.save(BEST)
        periodic = self.due(args.save_every) and self.bad_streak == 0
        if periodic or final or step == args.stop_after:
            self.save(LAST)
        index = self.applied_phase
        phase = self.curriculum.phases[index]
        if phase.checkpoint and step == self.curriculum.ends(args.steps)[index]:
            name = phase_checkpoint_name(index, phase.name)
            self.save(name)
            self.log.say(f"step {step}: phase {index} {phase.name!r} ended, saved {self.run_dir / name}")

    @torch.no_grad()
    def evaluate(self) -> float:
        """Token-weighted mean loss over the validation batches of every process."""
        acc, size = self.accelerator, self.args.batch_size
        rank = acc.process_index
        sums = torch.zeros(2, device=acc.device)
        self.model.eval()
        for batch in self.val_batches:
            local = {k: v[rank * size : (rank + 1) * size].to(acc.device) for k, v in batch.items()}
            with acc.autocast():
                outputs = self.model(**local, **self.base_kwargs)
            count = loss_tokens(local["labels"])
            if count:
                sums += torch.stack([outputs.loss.float() * count, torch.tensor(float(count), device=acc.device)])
        self.model.train()
        total, count = acc.reduce(sums, "sum").tolist()
        return total / max(count, 1.0)

    def save(self, name: str) -> None:
        state = {
            **asdict(self.state),
            "data": self.stream.state(),
            "vocab": vocab_fingerprint(self.tokenizer),
            "lr": self.lr,
            "num_processes": self.accelerator.num_processes,
        }
        save_checkpoint(
            self.run_dir / name,
            accelerator=self.accelerator,
            model=self.model,
            optimizer=self.optimizer,
            tokenizer=self.tokenizer,
            state=state,
            run_config=self.run_config,
        )


class StatSums:
    """Per-token part statistics summed over the real tokens of each micro-batch, for a mean over the step."""

    def __init__(self) -> None:
        self.sums: dict[str, torch.Tensor] = {}
        self.tokens: torch.Tensor | None = None

    def add(self, part_stats: dict[str, torch.Tensor] | None, real: torch.Tensor) -> None:
        if not part_stats:
            return
        weight = real.float()
        for name, value in part_stats.items():
            mask = weight.reshape(*weight.shape, *([1] * (value.dim() - 2)))
            total = (value * mask).sum(dim=(0, 1))
            self.sums[name] = self.sums[name] + total if name in self.sums else total
        count = weight.sum()
        self.tokens = count if self.tokens is None else self.tokens + count

    def reduced(self, accelerator: Accelerator) -> dict[str, float]:
        """Means over every real token of the step on every process, as `stats/<name>` (`stats/<name>/<i>` for
        a statistic with one value per expert, head, ...)."""
        if self.tokens is None:
            return {}
        names = sorted(self.sums)
        flat = torch.cat([self.sums[n].reshape(-1) for n in names] + [self.tokens.reshape(1)])
        flat = accelerator.reduce(flat, "sum")
        means = (flat[:-1] / flat[-1].clamp(min=1)).tolist()
        out: dict[str, float] = {}
        offset = 0
        for name in names:
            size = self.sums[name].numel()
            values = means[offset : offset + size]
            offset += size
            if self.sums[name].dim() == 0:
                out[f"stats/{name}"] = values[0]
            else:
                out.update({f"stats/{name}/{i}": v for i, v in enumerate(values)})
        return out


def phase_checkpoint_name(index: int, name: str) -> str:
    """RUN_DIR/phase-<i>-<name>, the name cut to characters every file system takes."""
    return f"{PHASE_PREFIX}{index}-{re.sub(r'[^A-Za-z0-9_.-]+', '_', name)}"


def existing_checkpoint(path: Path) -> Path | None:
    return path if (path / "config.json").is_file() else None
