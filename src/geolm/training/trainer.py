"""The one training loop of geolm, read top to bottom.

`train` wires the components (each in its own module: optimizer and parameter groups, schedule, data
order, checkpoints, metrics, accelerator) and `Trainer.run` steps through the schedule: pick the phase,
set learning rates, run the micro-batches, check for non-finite values, step, log, evaluate, save.
"""

from __future__ import annotations

import inspect
import math
import time
from collections.abc import Mapping
from contextlib import nullcontext
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from accelerate import Accelerator
from accelerate.utils import set_seed
from torch import nn

from geolm.data import TokenBlocks
from geolm.errors import CheckpointError, TrainingError
from geolm.metrics import model_metrics
from geolm.training.accel import make_accelerator
from geolm.training.args import TrainArgs
from geolm.training.checkpoint import (
    BEST,
    LAST,
    read_checkpoint,
    recover_interrupted,
    restore_training_state,
    resume_checkpoint,
    save_checkpoint,
    vocab_fingerprint,
)
from geolm.training.curriculum import Curriculum, Phase
from geolm.training.data import BatchStream, as_sources, eval_batches, loss_tokens
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


def train(
    model: nn.Module,
    train_data: TokenBlocks | Mapping[str, TokenBlocks],
    val_data: TokenBlocks | None,
    args: TrainArgs,
    run_dir: str | Path,
    *,
    tokenizer: Any = None,
    curriculum: Curriculum | None = None,
    resume: str | Path | None = None,
) -> TrainResult:
    """Train `model` (any HF causal LM taking `input_ids` and `labels`) and write checkpoints to `run_dir`.

    `train_data` is one `TokenBlocks` or named sources for curriculum mixtures; `resume` is None (start
    fresh), "auto" (RUN_DIR/last if it exists) or a checkpoint or run directory.
    """
    run_dir = Path(run_dir)
    curriculum = curriculum or Curriculum.baseline()
    sources = as_sources(train_data)
    curriculum.validate(list(sources), [name for name, _ in model.named_parameters()])
    run_dir.mkdir(parents=True, exist_ok=True)
    accelerator = make_accelerator(args, run_dir)
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
        refuse_to_overwrite(run_dir)
    else:
        saved = read_checkpoint(ckpt, model, tokenizer)
        state = RunState(**{key: saved[key] for key in asdict(state)})
        stream.load_state(saved["data"])
    run_config = {
        "train_args": args.to_dict(),
        "model_config": model.config.to_dict() if hasattr(model, "config") else None,
        "curriculum": curriculum.to_dict(),
        "num_processes": accelerator.num_processes,
    }
    model, optimizer = accelerator.prepare(model, optimizer)
    if ckpt is not None:
        restore_training_state(ckpt, accelerator, optimizer)
    trainer = Trainer(
        accelerator, model, optimizer, stream, val_data, args, curriculum, run_dir, tokenizer, state, run_config
    )
    return trainer.run()


def refuse_to_overwrite(run_dir: Path) -> None:
    """A fresh start would replace the checkpoints a run dir already holds; make that a decision, not an accident."""
    held = [name for name in (LAST, BEST) if existing_checkpoint(run_dir / name)]
    if held:
        raise CheckpointError(
            f"{run_dir} already holds checkpoint(s) {', '.join(held)}; resume with resume='auto' "
            "or train into another run directory"
        )


@dataclass
class Trainer:
    """The loop over optimizer steps; built by `train`, which owns setup and resume."""

    accelerator: Accelerator
    model: nn.Module
    optimizer: torch.optim.Optimizer
    stream: BatchStream
    val_data: TokenBlocks | None
    args: TrainArgs
    curriculum: Curriculum
    run_dir: Path
    tokenizer: Any
    state: RunState
    run_config: dict[str, Any]

    def __post_init__(self) -> None:
        self.raw_model = self.accelerator.unwrap_model(self.model)
        global_batch = self.args.batch_size * self.accelerator.num_processes
        self.val_batches = (
            eval_batches(self.val_data, global_batch, self.args.eval_batches) if self.val_data is not None else []
        )
        accepts_use_cache = "use_cache" in inspect.signature(self.raw_model.forward).parameters
        self.base_kwargs = {"use_cache": False} if accepts_use_cache else {}  # no KV cache while training
        self.frozen: list[nn.Parameter] = []
        self.applied_phase = -1
        self.bad_streak = 0
        self.lr = 0.0
        self.losses: dict[int, float] = {}
        self.log = RunLog(self.run_dir, self.accelerator, self.state.step, self.args.steps)

    def run(self) -> TrainResult:
        args = self.args
        tokens_per_step = args.batch_size * args.grad_accum * self.accelerator.num_processes * self.stream_block()
        self.model.train()
        try:
            with self.log:
                while self.state.step < args.steps:
                    phase = self.enter_phase(self.state.step)
                    self.lr = args.lr * lr_factor(self.state.step, args.steps, args.warmup_steps, args.min_lr_ratio)
                    set_learning_rates(self.optimizer, self.lr, phase)
                    started = time.perf_counter()
                    outcome = self.train_step(self.state.step, phase)
                    tokens_per_s = tokens_per_step / max(time.perf_counter() - started, 1e-9)
                    self.state.step += 1
                    self.account(outcome, tokens_per_s)
                    self.maybe_evaluate_and_save()
                    if self.state.step == args.stop_after:
                        break
            if self.accelerator.is_main_process:
                plot_losses(self.run_dir)
        finally:
            self.accelerator.end_training()
        return TrainResult(
            step=self.state.step,
            losses=self.losses,
            best_val_loss=self.state.best_val_loss,
            run_dir=self.run_dir,
            last_checkpoint=existing_checkpoint(self.run_dir / LAST),
            best_checkpoint=existing_checkpoint(self.run_dir / BEST),
            skipped_steps=self.state.skipped_steps,
        )

    def stream_block(self) -> int:
        return next(iter(self.stream.sources.values())).block_size

    def due(self, every: int) -> bool:
        return every > 0 and self.state.step % every == 0

    def enter_phase(self, step: int) -> Phase:
        """The phase of `step`; on a change, re-select frozen parameters and log the transition."""
        index = self.curriculum.phase_index(step, self.args.steps)
        phase = self.curriculum.phases[index]
        if index != self.applied_phase:
            named = self.raw_model.named_parameters()
            self.frozen = [p for name, p in named if self.curriculum.is_frozen(phase, name)]
            self.applied_phase = index
            if index != self.state.phase_index:  # a transition, not a resume into the phase already logged
                self.state.phase_index = index
                self.log.record({"step": step, "event": "phase", "phase": phase.name, "index": index})
                self.log.say(f"step {step}: phase {index} {phase.name!r} (losses {phase.losses})")
        return phase

    def train_step(self, step: int, phase: Phase) -> StepOutcome:
        """Forward/backward over `grad_accum` micro-batches, then clip and step unless a value is non-finite.

        Each micro-batch is weighted by its share of the loss tokens of the whole global batch, so the
        gradient equals that of one big batch whatever the split over micro-steps and processes.
        """
        acc, args = self.accelerator, self.args
        world, rank, size = acc.num_processes, acc.process_index, args.batch_size
        micro = [self.stream.next_batch(size * world, phase.mixture, step, m) for m in range(args.grad_accum)]
        window_tokens = max(sum(loss_tokens(b["labels"]) for b in micro), 1)
        names = list(phase.losses)
        weights = torch.tensor([phase.losses[n] for n in names], device=acc.device)
        totals = torch.zeros(len(names) + 1, device=acc.device)
        for m, batch in enumerate(micro):
            local = {k: v[rank * size : (rank + 1) * size].to(acc.device) for k, v in batch.items()}
            share = loss_tokens(local["labels"]) * world / window_tokens
            last_micro = m == args.grad_accum - 1  # gradients are all-reduced once, after the last micro-step
            with nullcontext() if last_micro else acc.no_sync(self.model):
                with acc.autocast():
                    outputs = self.model(**local, **self.base_kwargs, **phase.forward_kwargs)
                    values = torch.stack([LOSSES.get(n)(self.raw_model, local, outputs).float() for n in names])
                    loss = (values * weights).sum()
                acc.backward(loss * share)
            totals += share * torch.cat([loss.detach()[None], values.detach()])
        totals = (acc.reduce(totals, "sum") / world).tolist()  # token-weighted means over the global batch
        for param in self.frozen:
            param.grad = None
        grad_norm = float(acc.clip_grad_norm_(self.model.parameters(), args.clip or math.inf))
        status = self.apply_update(math.isfinite(totals[0]), math.isfinite(grad_norm))
        return StepOutcome(totals[0], dict(zip(names, totals[1:], strict=True)), grad_norm, status)

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


def existing_checkpoint(path: Path) -> Path | None:
    return path if (path / "config.json").is_file() else None
