"""`torch.compile` for training and generation, with a clear message where it cannot run.

Training compiles through accelerate (its dynamo plugin, inductor backend) when the trainer prepares the
model; generation compiles the model's forward with dynamic shapes, since the cache grows every step.
"""

from __future__ import annotations

import shutil

import torch
from torch import nn

from geolm.errors import ConfigError

CXX_COMPILERS = ("g++", "c++", "clang++")


def check_compile(device: torch.device | str) -> None:
    """Refuse `--compile` where torch.compile cannot run, naming what is missing."""
    import torch._dynamo

    if not torch._dynamo.is_dynamo_supported():
        raise ConfigError("--compile: torch.compile does not support this Python or platform; drop --compile")
    if torch.device(device).type == "cpu" and not any(shutil.which(c) for c in CXX_COMPILERS):
        raise ConfigError(
            "--compile on the CPU needs a C++ compiler for inductor's kernels (none of "
            f"{', '.join(CXX_COMPILERS)} is on PATH); install one (apt-get install g++) or drop --compile"
        )


def compile_for_generation(model: nn.Module) -> nn.Module:
    """`model` with its forward compiled for `generate()` (dynamic shapes: one graph for every cache length)."""
    check_compile(next(model.parameters()).device)
    model.forward = torch.compile(model.forward, dynamic=True)
    return model
