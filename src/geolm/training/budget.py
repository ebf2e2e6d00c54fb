"""Training for a wall-clock budget: the step count fitted to what the budget allows on this machine.

The first step pays for warm-up (allocation, compilation), so it is left out; the mean time of the next
`PROBE` steps says how many more the rest of the budget holds, and the schedule (its length, the warmup and
the curriculum's phases, which are shares of the length) is fitted to that count once. Evaluations and
checkpoints are not in the estimate, so a run with many of them ends a little past its budget.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

PROBE = 5  # steps timed, after the first, before the schedule is fitted


def now() -> float:
    """The budget's clock, in seconds."""
    return time.perf_counter()


@dataclass
class TimeBudget:
    """`seconds` of wall clock for the steps this process runs, counted from its creation."""

    seconds: float
    started: float = field(default_factory=lambda: now())
    first_done: float | None = None

    def steps_allowed(self, run: int, step: int) -> int | None:
        """After this process's `run`-th step (the run's `step`-th; called after every step): the step count the
        budget allows, once, when the probe ends; None before and after."""
        reading = now()
        if run == 1:
            self.first_done = reading
        if run != 1 + PROBE:
            return None
        per_step = (reading - self.first_done) / (run - 1)
        return step + max(0, int((self.seconds - (reading - self.started)) / per_step))
