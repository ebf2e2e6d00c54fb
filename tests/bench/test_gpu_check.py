"""`make gpu-check`'s script runs end to end at toy size on the CPU, so it is ready whenever a GPU is."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import torch
from benchmarks import gpu_check

from geolm import GeoConfig, GeoForCausalLM

SCRIPT = Path(gpu_check.__file__)


def test_counting_rows_step_by_one_stride_each() -> None:
    ids = gpu_check.counting_blocks(rows=6, length=12, vocab=64, seed=0).input_ids
    steps = (ids[:, 1:] - ids[:, :-1]) % 61
    assert (steps == steps[:, :1]).all() and (steps > 0).all()
    assert int(ids.min()) >= 3 and int(ids.max()) < 64


def test_the_toy_check_trains_decodes_and_compares_with_hf_llama(tmp_path) -> None:
    out = tmp_path / "gpu.md"
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    command = [sys.executable, str(SCRIPT), "--size", "toy", "--families", "geometric-llama", "--out", str(out)]
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    report = json.loads(out.with_suffix(".json").read_text())
    bf16, fp16 = report["checks"]
    assert (bf16["family"], bf16["precision"], bf16["passed"]) == ("geometric-llama", "bf16", True)
    assert bf16["last_loss"] < 0.8 * bf16["first_loss"] and bf16["graphs"] >= 1 and bf16["new_graphs"] == 0
    assert bf16["steps"] == gpu_check.SIZES["toy"].steps and bf16["skipped"] == 0
    assert "needs CUDA" in fp16["error"]
    rows = report["throughput"]["rows"]
    assert list(rows) == ["HF Llama (SDPA)", "llama", "geometric-llama"]
    assert rows["HF Llama (SDPA)"]["parameters"] == rows["llama"]["parameters"]
    assert all(row["tokens_per_s"] > 0 and row["mfu"] > 0 and row["peak_gib"] > 0 for row in rows.values())
    text = out.read_text()
    assert "Device: CPU (no CUDA)" in text and "fp16 needs CUDA" in text
    assert "| geometric-llama | geometric-llama-tiny | bf16 |" in text
    assert report["sync"] == {
        "model": "mgm-tiny without memory, capacity factor 1.25",
        "passed": False,
        "error": gpu_check.SYNC_ON_CPU,
    }
    assert "## Host synchronisation" in text


def test_the_decoding_check_sees_a_cache_that_drifts() -> None:
    torch.manual_seed(0)
    model = GeoForCausalLM(GeoConfig.from_preset("llama-tiny"))
    assert gpu_check.decoding_check(model, 6, new_tokens=4)["decode_equal"]
    forward = model.forward

    def drifting(*args, **kwargs):
        outputs = forward(*args, **kwargs)
        if outputs.logits.shape[1] == 1:  # a cached decoding step
            outputs.logits = outputs.logits + 0.01
        return outputs

    model.forward = drifting
    checked = gpu_check.decoding_check(model, 6, new_tokens=4)
    assert not checked["decode_equal"] and checked["decode_max_diff"] > gpu_check.DECODE_ATOL
