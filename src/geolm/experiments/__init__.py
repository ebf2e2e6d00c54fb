"""Experiment suites: curvature attention against standard attention on WordNet-built tasks, run plots, and the
family experiments (`mixture`, `integrator`, `leaderboard`, imported by name)."""

from geolm.experiments.curves import plot_curves, read_metrics
from geolm.experiments.suite import SuiteOptions, run_suite
from geolm.experiments.taskfiles import load_task_file
from geolm.experiments.tasks import BUILDERS, Example, Task

__all__ = [
    "BUILDERS",
    "Example",
    "SuiteOptions",
    "Task",
    "load_task_file",
    "plot_curves",
    "read_metrics",
    "run_suite",
]
