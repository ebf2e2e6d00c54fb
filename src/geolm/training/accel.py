"""The `Accelerator` of a run: devices, mixed precision, distribution and trackers, all through accelerate."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
from accelerate import Accelerator
from accelerate.state import AcceleratorState, GradientState
from accelerate.tracking import get_available_trackers
from accelerate.utils import DistributedDataParallelKwargs, LoggerType, ProjectConfiguration, TorchDynamoPlugin

from geolm.compiling import check_compile
from geolm.devices import default_device
from geolm.errors import ConfigError, unknown_names
from geolm.training.args import TrainArgs


def check_trackers(report_to: list[str]) -> None:
    """Refuse unknown trackers and trackers whose package is missing (accelerate would drop them silently)."""
    known = [t for t in LoggerType.list() if t != "all"]
    available = {str(t) for t in get_available_trackers()}
    for name in report_to:
        if name not in known:
            raise ConfigError(f"--report-to: {unknown_names('tracker', [name], known)}")
        if name not in available:
            raise ConfigError(f"--report-to: tracker {name!r} needs its package (pip install {name})")


def make_accelerator(args: TrainArgs, run_dir: Path, find_unused: bool = False) -> Accelerator:
    """A fresh Accelerator for this run; under `accelerate launch`/`torchrun` it joins the process group.

    `find_unused` tells DDP that some parameters get no gradient in some steps (a phase froze them).

    The shared AcceleratorState is reset first (keeping the process group), as transformers' Trainer does,
    so one process can run several trainings with different precisions. wandb runs offline by default:
    no network is assumed, and `wandb sync` uploads later.
    """
    check_trackers(args.report_to)
    if args.compile:
        check_compile(default_device())
    if "wandb" in args.report_to:
        os.environ.setdefault("WANDB_MODE", "offline")
        os.environ.setdefault("WANDB_DIR", str(run_dir))
    AcceleratorState._reset_state(reset_partial_state=False)
    GradientState._reset_state()
    accelerator = Accelerator(
        cpu=launched_on_cpu(),
        mixed_precision=args.mixed_precision,
        log_with=args.report_to or None,
        project_config=ProjectConfiguration(project_dir=str(run_dir), logging_dir=str(run_dir / "trackers")),
        step_scheduler_with_optimizer=False,
        kwargs_handlers=[DistributedDataParallelKwargs(find_unused_parameters=True)] if find_unused else None,
        dynamo_plugin=TorchDynamoPlugin(backend="inductor") if args.compile else None,
    )
    if args.mixed_precision == "fp16" and accelerator.device.type == "cpu":
        raise ConfigError("--mixed-precision fp16 needs a GPU (accelerate would run fp32); use 'bf16'")
    if args.report_to:
        accelerator.init_trackers("geolm", config=tracker_config(args))
    return accelerator


def launched_on_cpu() -> bool:
    """Several processes and no GPU: accelerate forms a gloo process group only when told it runs on CPU."""
    return not torch.cuda.is_available() and int(os.environ.get("WORLD_SIZE", "1")) > 1


def tracker_config(args: TrainArgs) -> dict[str, Any]:
    """Train args as flat scalars (tensorboard's hparams accept nothing else)."""
    return {
        key: value if isinstance(value, (int, float, str, bool)) else json.dumps(value)
        for key, value in args.to_dict().items()
    }
