import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from ddp_worker import main as run_worker
from safetensors.torch import load_file

HERE = Path(__file__).parent
WORKER = HERE / "ddp_worker.py"


def torchrun(run_dir: Path, *extra: str) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    env["PYTHONPATH"] = os.pathsep.join([str(HERE.parent / "nn"), env.get("PYTHONPATH", "")])
    env.pop("CUDA_VISIBLE_DEVICES", None)
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
    done = subprocess.run(
        [*command, str(WORKER), str(run_dir), "2", *extra], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]


def assert_same_weights(a: Path, b: Path) -> dict:
    ddp, single = load_file(a / "last" / "model.safetensors"), load_file(b / "last" / "model.safetensors")
    assert ddp.keys() == single.keys()
    for name in single:
        torch.testing.assert_close(ddp[name], single[name], atol=1e-4, rtol=0)
    return single


def test_two_gloo_processes_match_one_process_with_the_same_global_batch(tmp_path):
    torchrun(tmp_path / "ddp")
    run_worker(str(tmp_path / "single"), 4)
    single = assert_same_weights(tmp_path / "ddp", tmp_path / "single")
    assert float((single["model.norm.weight"] - 1).abs().max()) > 1e-3  # training moved the weights
    rank_files = sorted(p.name for p in (tmp_path / "ddp" / "last" / "trainer_state").glob("rng_*.pt"))
    assert rank_files == ["rng_0.pt", "rng_1.pt"]


def metric_rows(run_dir: Path) -> list[dict]:
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return [r for r in rows if "loss" in r and "event" not in r]


def test_part_statistics_and_frozen_parameters_under_two_gloo_processes(tmp_path):
    torchrun(tmp_path / "ddp", "parts")
    run_worker(str(tmp_path / "single"), 4, parts=True)
    assert_same_weights(tmp_path / "ddp", tmp_path / "single")
    ddp, single = metric_rows(tmp_path / "ddp"), metric_rows(tmp_path / "single")
    for a, b in zip(ddp, single, strict=True):
        for key in ("loss", "loss/ffn_energy", "stats/ffn_norm"):
            assert a[key] == pytest.approx(b[key], rel=1e-5), key  # reduced over both processes' tokens
    assert ddp[0]["stats/ffn_norm"] > 0
