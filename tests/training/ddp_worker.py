"""Run by the distributed test under torchrun (and in-process for the reference): 3 steps of llama-tiny."""

import sys

from trainkit import random_blocks, tiny_args, tiny_model

from geolm.training import train


def main(run_dir: str, batch_size: int) -> None:
    train(tiny_model(), random_blocks(32), None, tiny_args(steps=3, batch_size=batch_size, grad_accum=2), run_dir)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
