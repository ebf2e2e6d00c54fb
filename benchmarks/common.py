"""Shared timing helpers for the benchmark runner: interleaved repeats, medians, machine description."""

from __future__ import annotations

import os
import platform
import statistics
import time
from collections.abc import Callable

import torch

from geolm.experiments.measure import TrainingStep


def machine() -> str:
    """One line naming the machine the numbers were measured on."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as handle:
            cpu = next(line.split(":", 1)[1].strip() for line in handle if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    device = torch.cuda.get_device_name() if torch.cuda.is_available() else "no GPU"
    return (
        f"{cpu}, {os.cpu_count()} cores visible, torch {torch.__version__} with {torch.get_num_threads()} "
        f"threads, {device}"
    )


def timed(fn: Callable[[], object]) -> float:
    """Wall seconds of one call (synchronising the GPU when there is one)."""
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    start = time.perf_counter()
    fn()
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return time.perf_counter() - start


def interleaved(contenders: dict[str, Callable[[], object]], repeats: int, warmup: int = 1) -> dict[str, float]:
    """Median seconds per call of each contender, alternating them so drift in the machine hits all alike."""
    for fn in contenders.values():
        for _ in range(warmup):
            fn()
    samples: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(repeats):
        for name, fn in contenders.items():
            samples[name].append(timed(fn))
    return {name: statistics.median(values) for name, values in samples.items()}


def matmul_peak_flops(size: int = 2048, repeats: int = 5, dtype: torch.dtype = torch.float32) -> float:
    """Measured dense matmul throughput of this machine (FLOP/s), the denominator of model FLOP utilisation."""
    device = "cuda" if torch.cuda.is_available() else "cpu"
    a = torch.randn(size, size, device=device, dtype=dtype)
    b = torch.randn(size, size, device=device, dtype=dtype)
    seconds = interleaved({"mm": lambda: a @ b}, repeats=repeats, warmup=2)["mm"]
    return 2 * size**3 / seconds


def throughput(
    models: dict[str, torch.nn.Module],
    batch: int = 8,
    seq_len: int = 256,
    repeats: int = 7,
    prompt_len: int = 32,
    new_tokens: int = 128,
    compiled: bool = False,
) -> dict:
    """Training (forward+backward+AdamW) and cached greedy generation tokens/s of each model, interleaved.

    `compiled` runs both through `torch.compile` (the training forward as it is; the generation forward with
    dynamic shapes, since the cache grows every step); compilation happens in the untimed warm-up calls.
    """
    if compiled:
        torch._dynamo.reset()  # guards kept from earlier compilations would count towards the recompile limit
    vocab = min(m.config.vocab_size for m in models.values())
    tokens = torch.randint(3, vocab, (batch, seq_len), generator=torch.Generator().manual_seed(0))

    def train_step(model: torch.nn.Module) -> Callable[[], None]:
        return TrainingStep(model, tokens, torch.compile(model) if compiled else None)

    def generate(model: torch.nn.Module) -> Callable[[], None]:
        if compiled:
            model.forward = torch.compile(model.forward, dynamic=True)

        def call() -> None:
            with torch.no_grad():
                model.eval().generate(
                    tokens[:1, :prompt_len],
                    max_new_tokens=new_tokens,
                    min_new_tokens=new_tokens,
                    do_sample=False,
                    pad_token_id=0,
                )

        return call

    warmup = 2 if compiled else 1
    train_s = interleaved({name: train_step(m) for name, m in models.items()}, repeats=repeats, warmup=warmup)
    gen_s = interleaved({name: generate(m) for name, m in models.items()}, repeats=repeats, warmup=warmup)
    return {
        "train_shape": f"batch {batch} x {seq_len} tokens, forward+backward+AdamW",
        "generate_shape": f"batch 1, prompt {prompt_len}, {new_tokens} new tokens, greedy, KV cache",
        "train_tokens_per_s": {name: batch * seq_len / s for name, s in train_s.items()},
        "generate_tokens_per_s": {name: new_tokens / s for name, s in gen_s.items()},
    }
