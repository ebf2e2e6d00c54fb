"""What the family experiments and benchmarks measure beyond the loss: generation speed, the peak memory of a
training step, and the mean and spread of a number over seeds."""

from __future__ import annotations

import contextlib
import math
import os
import statistics
import sys
import time
from collections.abc import Iterator, Sequence

import torch

from geolm.devices import memory_device


def spread(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (NaN for one value)."""
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else math.nan


def plus_minus(pair: Sequence[float], digits: int) -> str:
    """A (mean, sd) pair of `spread` as "mean ± sd", or the mean alone when sd is NaN (one seed)."""
    mean, sd = pair
    return f"{mean:.{digits}f}" if math.isnan(sd) else f"{mean:.{digits}f} ± {sd:.{digits}f}"


@torch.no_grad()
def generation_speed(
    model, prompt: torch.Tensor, new_tokens: int, settings: dict[str, dict | None], repeats: int = 5
) -> dict[str, float]:
    """Median tokens/s of cached greedy generation of `new_tokens` after `prompt` (1, T) under each of the
    part `settings`, the settings alternating from repeat to repeat so that drift in the machine hits all."""
    model.eval()
    prompt = prompt.to(model.device)
    seconds: dict[str, list[float]] = {name: [] for name in settings}
    try:
        for repeat in range(repeats + 1):  # the first round warms up
            for name, setting in settings.items():
                model.set_part_settings(setting)
                start = time.perf_counter()
                model.generate(
                    prompt,
                    max_new_tokens=new_tokens,
                    min_new_tokens=new_tokens,
                    do_sample=False,
                    pad_token_id=model.config.pad_token_id,
                )
                if repeat:
                    seconds[name].append(time.perf_counter() - start)
    finally:
        model.set_part_settings(None)
    return {name: new_tokens / statistics.median(values) for name, values in seconds.items()}


class TrainingStep:
    """One forward, backward and AdamW step of `model` on `tokens` (labels = inputs), called repeatedly;
    `forward` runs the model (default: the model itself; a `torch.compile` of it, say), under autocast to
    `autocast` where given (bf16 on a GPU, say)."""

    def __init__(self, model, tokens: torch.Tensor, forward=None, autocast: torch.dtype | None = None) -> None:
        self.model, self.tokens = model, tokens
        self.forward = model if forward is None else forward
        self.optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
        self.autocast = autocast

    def __call__(self) -> None:
        self.model.train()
        self.optimizer.zero_grad(set_to_none=True)
        with torch.autocast(self.tokens.device.type, dtype=self.autocast, enabled=self.autocast is not None):
            loss = self.forward(self.tokens, labels=self.tokens).loss
        loss.backward()
        self.optimizer.step()


@contextlib.contextmanager
def _stderr_silenced() -> Iterator[None]:
    """File descriptor 2 to /dev/null: the profiler's C++ side prints a line as it starts and stops. The step
    it wraps has already run once unprofiled, where any error would have shown."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _held_bytes(model, optimizer: torch.optim.Optimizer) -> int:
    """Bytes of the parameters and the optimizer's state, which live across steps."""
    tensors = list(model.parameters()) + [
        value for state in optimizer.state.values() for value in state.values() if torch.is_tensor(value)
    ]
    return sum(t.numel() * t.element_size() for t in tensors)


def peak_training_memory(model, tokens: torch.Tensor, autocast: torch.dtype | None = None) -> int:
    """Peak bytes of tensors alive during one training step: the parameters and AdamW state held across steps,
    plus the step's own peak (activations, gradients). On CUDA it is the allocator's peak; on the CPU the
    running sum of the allocations and frees the profiler records per operator (a peak inside one operator
    is not seen). The step runs once untimed first, so the optimizer state exists."""
    if memory_device(tokens.device) != tokens.device:
        raise ValueError(f"peak training memory is measured on CUDA or the CPU, not {tokens.device.type}")
    step = TrainingStep(model, tokens, autocast=autocast)
    step()
    held = _held_bytes(model, step.optimizer)
    if tokens.is_cuda:
        torch.cuda.synchronize()
        before = torch.cuda.memory_allocated()
        torch.cuda.reset_peak_memory_stats()
        step()
        torch.cuda.synchronize()
        return held + torch.cuda.max_memory_allocated() - before
    from torch.profiler import ProfilerActivity, profile

    step.optimizer.zero_grad(set_to_none=True)  # the profiler sees no free of what it did not see allocated
    with _stderr_silenced(), profile(activities=[ProfilerActivity.CPU], profile_memory=True) as recorded:
        step()
    events = sorted((e for e in recorded.events() if e.self_cpu_memory_usage), key=lambda e: e.time_range.start)
    live = peak = 0
    for event in events:
        live += event.self_cpu_memory_usage
        peak = max(peak, live)
    return held + peak
