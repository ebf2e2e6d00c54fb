"""The learning-rate schedule: linear warmup, then cosine decay to `min_lr_ratio` of the peak.

It is a pure function of the step, so resuming needs only the step to put the schedule back where it was.
"""

from __future__ import annotations

import math


def lr_factor(step: int, steps: int, warmup_steps: int, min_lr_ratio: float) -> float:
    """Multiplier of the peak learning rate for optimizer step `step` (0-based) of a `steps`-long run.

    Warmup reaches the peak at step `warmup_steps - 1`; the cosine then runs from the peak at step
    `warmup_steps` down to `min_lr_ratio` at the last step.
    """
    if step < warmup_steps:
        return (step + 1) / warmup_steps
    decay_steps = steps - warmup_steps - 1
    progress = min(1.0, (step - warmup_steps) / decay_steps) if decay_steps > 0 else 1.0
    return min_lr_ratio + (1.0 - min_lr_ratio) * 0.5 * (1.0 + math.cos(math.pi * progress))
