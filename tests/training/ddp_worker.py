"""Run by the distributed tests under torchrun (and in-process for the reference): a few steps of llama-tiny.

    ddp_worker.py RUN_DIR BATCH_SIZE [parts] [steps=N] [stop_after=N] [resume]

With `parts`, the model has the example FFN (an auxiliary loss and a statistic) and the first half of the run
freezes its FFNs, so the tests see statistics reduced over processes and frozen parameters left alone.

accelerate turns FSDP on only for accelerator devices: CPU processes launched with ACCELERATE_USE_FSDP=true
would fall back to plain data parallelism over gloo. Under that variable the worker lifts the rule, so
accelerate's FSDP2 path (fully_shard, gathered state dicts) runs over gloo, and it writes sharded.json saying
whether the trained parameters were really sharded.
"""

import json
import os
import sys
from pathlib import Path

import accelerate.state
from accelerate.utils import DistributedType
from trainkit import random_blocks, tiny_args, tiny_model

from geolm.training import Curriculum, Phase, train

FROZEN_FIRST = Curriculum([Phase("frozen", length=0.5, freeze=["*.mlp.*"]), Phase("free", length=0.5)])


def allow_fsdp_on_cpu_processes() -> None:
    original = accelerate.state.AcceleratorState.__init__

    def init(self, *args, fsdp_plugin=None, **kwargs):
        original(self, *args, fsdp_plugin=fsdp_plugin, **kwargs)
        if fsdp_plugin is not None and self.distributed_type == DistributedType.MULTI_CPU:
            self.distributed_type = DistributedType.FSDP
            self.fsdp_plugin = fsdp_plugin
            accelerate.state.PartialState._shared_state["distributed_type"] = DistributedType.FSDP

    accelerate.state.AcceleratorState.__init__ = init


def main(run_dir: str, batch_size: int, *options: str) -> None:
    settings = dict(option.split("=") for option in options if "=" in option)
    args = tiny_args(
        steps=int(settings.get("steps", 3)),
        stop_after=int(settings["stop_after"]) if "stop_after" in settings else None,
        batch_size=batch_size,
        grad_accum=2,
    )
    resume = "auto" if "resume" in options else None
    if "parts" in options:
        import example_part  # noqa: F401  (registers "damped_swiglu")

        model = tiny_model(ffn="damped_swiglu")
        train(model, random_blocks(32), None, args, run_dir, curriculum=FROZEN_FIRST, resume=resume)
    else:
        model = tiny_model()
        train(model, random_blocks(32), None, args, run_dir, resume=resume)
    if os.environ.get("ACCELERATE_USE_FSDP") == "true" and os.environ.get("RANK") == "0":
        sharded = all(type(p).__name__ == "DTensor" for p in model.parameters())
        (Path(run_dir) / "sharded.json").write_text(json.dumps({"sharded": sharded}))


if __name__ == "__main__":
    if os.environ.get("ACCELERATE_USE_FSDP") == "true":
        allow_fsdp_on_cpu_processes()
    main(sys.argv[1], int(sys.argv[2]), *sys.argv[3:])
