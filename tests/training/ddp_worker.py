"""Run by the distributed tests under torchrun (and in-process for the reference): 3 steps of llama-tiny.

With `parts`, the model has the example FFN (an auxiliary loss and a statistic) and the first phase freezes
its FFNs, so the test sees statistics reduced over processes and frozen parameters left out of DDP.
"""

import sys

from trainkit import random_blocks, tiny_args, tiny_model

from geolm.training import Curriculum, Phase, train

FROZEN_FIRST = Curriculum([Phase("frozen", length=0.5, freeze=["*.mlp.*"]), Phase("free", length=0.5)])


def main(run_dir: str, batch_size: int, parts: bool = False) -> None:
    args = tiny_args(steps=3, batch_size=batch_size, grad_accum=2)
    if not parts:
        train(tiny_model(), random_blocks(32), None, args, run_dir)
        return
    import example_part  # noqa: F401  (registers "damped_swiglu")

    train(tiny_model(ffn="damped_swiglu"), random_blocks(32), None, args, run_dir, curriculum=FROZEN_FIRST)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), len(sys.argv) > 3)
