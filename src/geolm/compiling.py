"""`torch.compile` for training and generation, with a clear message where it cannot run.

Training compiles through accelerate (its dynamo plugin, inductor backend) when the trainer prepares the
model; generation compiles the model's forward with dynamic shapes, since the cache grows every step.
"""

from __future__ import annotations

import functools
import shutil
import warnings
from collections.abc import Callable

import torch
from torch import nn

from geolm.errors import ConfigError

CXX_COMPILERS = ("g++", "c++", "clang++")


def compile_problem(device_type: str) -> str | None:
    """Why torch.compile cannot run on devices of `device_type` here, or None if it can."""
    import torch._dynamo

    if not torch._dynamo.is_dynamo_supported():
        return "torch.compile does not support this Python or platform"
    if device_type == "cpu" and not any(shutil.which(c) for c in CXX_COMPILERS):
        return (
            "on the CPU, torch.compile needs a C++ compiler for inductor's kernels (none of "
            f"{', '.join(CXX_COMPILERS)} is on PATH; apt-get install g++ gives one)"
        )
    return None


def check_compile(device: torch.device | str) -> None:
    """Refuse `--compile` where torch.compile cannot run, naming what is missing."""
    problem = compile_problem(torch.device(device).type)
    if problem is not None:
        raise ConfigError(f"--compile: {problem}; drop --compile to run eagerly")


def compile_for_generation(model: nn.Module) -> nn.Module:
    """`model` with its forward compiled for `generate()` (dynamic shapes: one graph for every cache length)."""
    check_compile(next(model.parameters()).device)
    model.forward = torch.compile(model.forward, dynamic=True)
    return model


@functools.cache
def compiled(step: Callable) -> Callable:
    """`step` compiled with dynamic shapes, or `step` itself, with a warning, if the compiler fails on it (the
    eager step computes the same numbers). For pieces of a model that are compiled on their own: the blocks of
    curvature attention, the experts of one geometry.

    Each mix of the step's Python-level inputs (flags, module types) and of inference and training tensors is
    a variant of its own, more than dynamo's default limit of recompilations allows; the limit is raised for
    this step alone (patching dynamo's global limit around every call cost some 30 µs a call).
    """
    fast, failed = torch.compile(step, dynamic=True, recompile_limit=64), []

    def run(*args):
        if failed:
            return step(*args)
        try:
            return fast(*args)
        except Exception as error:  # a compiler bug must not stop a run that the eager step can carry on
            failed.append(error)
            warnings.warn(f"compiling {step.__name__} failed ({error!r:.200}); running it eagerly", stacklevel=2)
            return step(*args)

    return run
