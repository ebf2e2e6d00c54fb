"""Data parallelism (DDP) and FSDP2 through accelerate, on CPU processes over gloo (ddp_worker.py says how FSDP
runs there): equal to one process with the same global batch, exact resumes, frozen parameters left alone."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from ddp_worker import main as run_worker
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM

HERE = Path(__file__).parent
WORKER = HERE / "ddp_worker.py"
# The accelerate settings docs/distributed.md gives for FSDP2, as `accelerate launch --config_file` exports them.
FSDP = {
    "ACCELERATE_USE_FSDP": "true",
    "FSDP_VERSION": "2",
    "FSDP_AUTO_WRAP_POLICY": "TRANSFORMER_BASED_WRAP",
    "FSDP_TRANSFORMER_CLS_TO_WRAP": "GeoDecoderLayer",
    "FSDP_STATE_DICT_TYPE": "FULL_STATE_DICT",
    "FSDP_RESHARD_AFTER_FORWARD": "true",
    "FSDP_CPU_RAM_EFFICIENT_LOADING": "false",
}


def torchrun(run_dir: Path, *extra: str, fsdp: bool = False) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", **(FSDP if fsdp else {})}
    env["PYTHONPATH"] = os.pathsep.join([str(HERE.parent / "nn"), env.get("PYTHONPATH", "")])
    env.pop("CUDA_VISIBLE_DEVICES", None)
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
    done = subprocess.run(
        [*command, str(WORKER), str(run_dir), "2", *extra], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]


def weights(run_dir: Path, name: str = "last") -> dict[str, torch.Tensor]:
    return load_file(run_dir / name / "model.safetensors")


def assert_same_weights(a: Path, b: Path, atol: float = 1e-4) -> dict:
    first, second = weights(a), weights(b)
    assert first.keys() == second.keys()
    for name in second:
        torch.testing.assert_close(first[name], second[name], atol=atol, rtol=0)
    return second


def metric_rows(run_dir: Path) -> list[dict]:
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return [r for r in rows if "loss" in r and "event" not in r]


@pytest.fixture(scope="module")
def single(tmp_path_factory) -> Path:
    """3 steps in one process with the global batch of the 2-process runs (2 blocks each)."""
    run_dir = tmp_path_factory.mktemp("single")
    run_worker(str(run_dir), 4)
    return run_dir


def test_two_gloo_processes_match_one_process_and_resume_exactly(tmp_path, single):
    torchrun(tmp_path / "ddp")
    assert_same_weights(tmp_path / "ddp", single)
    assert float((weights(single)["model.norm.weight"] - 1).abs().max()) > 1e-3  # training moved the weights
    rank_files = sorted(p.name for p in (tmp_path / "ddp" / "last" / "trainer_state").glob("rng_*.pt"))
    assert rank_files == ["rng_0.pt", "rng_1.pt"]
    torchrun(tmp_path / "resumed", "stop_after=2")
    torchrun(tmp_path / "resumed", "resume")
    assert_same_weights(tmp_path / "resumed", tmp_path / "ddp", atol=0)


def test_part_statistics_and_frozen_parameters_under_two_gloo_processes(tmp_path):
    torchrun(tmp_path / "ddp", "parts")
    run_worker(str(tmp_path / "single"), 4, "parts")
    assert_same_weights(tmp_path / "ddp", tmp_path / "single")
    ddp, single = metric_rows(tmp_path / "ddp"), metric_rows(tmp_path / "single")
    for a, b in zip(ddp, single, strict=True):
        for key in ("loss", "loss/ffn_energy", "stats/ffn_norm"):
            assert a[key] == pytest.approx(b[key], rel=1e-5), key  # reduced over both processes' tokens
    assert ddp[0]["stats/ffn_norm"] > 0


def test_fsdp_matches_one_process_and_saves_a_checkpoint_one_process_loads(tmp_path, single):
    torchrun(tmp_path / "fsdp", fsdp=True)
    assert json.loads((tmp_path / "fsdp" / "sharded.json").read_text()) == {"sharded": True}
    assert_same_weights(tmp_path / "fsdp", single)  # the tied output embedding is saved once, as without FSDP
    ids = torch.randint(0, 512, (2, 12), generator=torch.Generator().manual_seed(3))
    logits = [AutoModelForCausalLM.from_pretrained(run / "last")(ids).logits for run in (tmp_path / "fsdp", single)]
    torch.testing.assert_close(logits[0], logits[1], atol=1e-4, rtol=0)
    state = (tmp_path / "fsdp" / "last" / "trainer_state").iterdir()
    assert sorted(p.name for p in state) == ["optimizer.pt", "rng_0.pt", "rng_1.pt", "run_config.json", "state.json"]


def test_fsdp_resumes_exactly_and_leaves_frozen_parameters_alone(tmp_path):
    """4 steps whose first two freeze the FFNs, straight through and stopped after step 2 then resumed."""
    import example_part  # noqa: F401  (registers "damped_swiglu", to build the untrained model)
    from trainkit import tiny_model

    torchrun(tmp_path / "straight", "parts", "steps=4", fsdp=True)
    torchrun(tmp_path / "resumed", "parts", "steps=4", "stop_after=2", fsdp=True)
    start, halfway = tiny_model(ffn="damped_swiglu").state_dict(), weights(tmp_path / "resumed")
    ffn = [name for name in halfway if ".mlp." in name]
    assert ffn and all(torch.equal(halfway[name], start[name]) for name in ffn)
    query = "model.layers.0.self_attn.q_proj.weight"
    assert not torch.equal(halfway[query], start[query])
    torchrun(tmp_path / "resumed", "parts", "steps=4", "resume", fsdp=True)
    end = weights(tmp_path / "resumed")
    assert all(not torch.equal(end[name], start[name]) for name in ffn)  # trained once the phase freed them
    assert_same_weights(tmp_path / "resumed", tmp_path / "straight", atol=0)
    losses = [[r["loss"] for r in metric_rows(tmp_path / run)] for run in ("resumed", "straight")]
    assert losses[0] == losses[1]
