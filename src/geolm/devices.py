"""Which device geolm computes on when not told, and what it can measure there.

One choice for every command, in accelerate's order (the trainer's device comes from accelerate): the first
CUDA GPU, else Apple's MPS, else the CPU.
"""

from __future__ import annotations

import torch


def default_device() -> torch.device:
    """The best device at hand: the first CUDA GPU, else Apple's MPS, else the CPU."""
    if torch.cuda.is_available():
        return torch.device("cuda")
    return torch.device("mps" if torch.backends.mps.is_available() else "cpu")


def memory_device(device: torch.device) -> torch.device:
    """Where the peak memory of work meant for `device` can be measured: CUDA's allocator keeps a peak and the
    CPU's allocations can be profiled, but MPS reports no peak, so its work is measured on the CPU."""
    return device if device.type in ("cuda", "cpu") else torch.device("cpu")
