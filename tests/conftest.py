"""Test-wide settings: offline, deterministic, small thread pool."""

import os
import tempfile

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("GEOLM_CACHE", tempfile.mkdtemp(prefix="geolm-cache-"))  # shared by this run only
# `make test` runs the suite in one pytest-xdist worker per core: each worker, and every command it starts, then
# computes on one thread, so the workers share the cores instead of oversubscribing them.
WORKER = os.environ.get("PYTEST_XDIST_WORKER")
if WORKER:
    os.environ["OMP_NUM_THREADS"] = os.environ["MKL_NUM_THREADS"] = "1"

import pytest  # noqa: E402 (after the environment it reads)
import torch  # noqa: E402

if WORKER:
    torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


from hypothesis import settings  # noqa: E402

# Property tests explore the same examples on every run, so CI cannot flake on a newly drawn case.
settings.register_profile("geolm", derandomize=True, deadline=None, print_blob=True)
settings.load_profile("geolm")
