import os
import subprocess
import sys
from pathlib import Path

import torch
from ddp_worker import main as run_worker
from safetensors.torch import load_file

WORKER = Path(__file__).with_name("ddp_worker.py")


def test_two_gloo_processes_match_one_process_with_the_same_global_batch(tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    env.pop("CUDA_VISIBLE_DEVICES", None)
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
    done = subprocess.run(
        [*command, str(WORKER), str(tmp_path / "ddp"), "2"], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    run_worker(str(tmp_path / "single"), 4)
    ddp = load_file(tmp_path / "ddp" / "last" / "model.safetensors")
    single = load_file(tmp_path / "single" / "last" / "model.safetensors")
    assert ddp.keys() == single.keys()
    for name in single:
        torch.testing.assert_close(ddp[name], single[name], atol=1e-4, rtol=0)
    assert float((single["model.norm.weight"] - 1).abs().max()) > 1e-3  # training moved the weights
    rank_files = sorted(p.name for p in (tmp_path / "ddp" / "last" / "trainer_state").glob("rng_*.pt"))
    assert rank_files == ["rng_0.pt", "rng_1.pt"]
