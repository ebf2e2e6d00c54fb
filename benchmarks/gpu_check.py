"""`make gpu-check`: one prepared script that says whether geolm trains, decodes and keeps pace on a GPU.

1. **Training**, for every family's small preset (the mixes included), through `geolm.training.train` as
   `geolm train` runs it: a few hundred steps under bf16 autocast with `compile=True`, and again under fp16
   with the grad scaler. A check passes when the loss falls (the data is learnable: every row counts on from a
   random start by a random stride), no step is skipped as non-finite, the fp16 scaler skips few steps for
   overflow, and dynamo compiles no new graph after the warm-up steps. Each check runs in a process of its
   own (a fresh compiler state, and compilation is CPU-bound: `--jobs` of them at once); nothing in them is
   timed.
2. **Cached decoding** of each trained model equals a full forward of the same tokens: greedy tokens equal and
   logits within a tolerance, in float32 on the device.
3. **Host synchronisation**: a training step of the mixture at a capacity factor waits for nothing on the
   GPU (`torch.cuda.set_sync_debug_mode("error")`).
4. **Throughput**, alone on the device and eager: training tokens/s, MFU and peak memory of every family
   matched to a ~100M-parameter Llama (the leaderboard's equal-budget matching), beside HF `LlamaForCausalLM`
   with SDPA of that shape, all under bf16 autocast. MFU counts FLOPs as benchmarks/mfu_bench.py does,
   against a measured bf16 matmul peak.

Writes docs/gpu.md with the device, driver, torch version and command. Without CUDA, `--size toy` runs the
same code on the tiny presets on the CPU (tests/bench/test_gpu_check.py), so the script is always ready; fp16
checks then report that they need CUDA.

    python benchmarks/gpu_check.py [--size small|toy] [--jobs N] [--families a,b] [--out docs/gpu.md]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import shlex
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from benchmarks.common import interleaved, machine, matmul_peak_flops  # noqa: E402
from benchmarks.mfu_bench import step_flops  # noqa: E402
from geolm.testing import cached_and_full_logits  # noqa: E402

FAMILIES = ("llama", "geometric-llama", "curvature", "mgm", "inl", "geo-mix-moe", "geo-mix-integrator")
PRECISIONS = ("bf16", "fp16")
WARMUP_STEPS = 5  # compiled graphs counted after these steps must not grow
MAX_OVERFLOW_SHARE = 0.1  # fp16: the scaler may skip this share of steps while it finds its scale
DECODE_ATOL = 1e-3  # float32 logits, cached against full forward
FP16_ON_CPU = "fp16 needs CUDA (accelerate would train in float32)"
SYNC_CAPACITY = 1.25  # the mixture's capacity factor in the host-synchronisation check
SYNC_ON_CPU = "needs CUDA (torch watches for synchronisation on CUDA only)"


@dataclass(frozen=True)
class Size:
    """How big each part of the check runs."""

    presets: dict[str, str]
    steps: int
    batch_size: int
    block_size: int
    lr: float
    new_tokens: int  # generated in the decoding check
    throughput: dict  # LeaderboardOptions fields of the matched models
    throughput_batch: int
    check_seconds: int  # one training check's time limit


SIZES = {
    "small": Size(
        presets={
            "llama": "llama-10m",
            "geometric-llama": "geometric-llama-10m",
            "curvature": "curvature-small",
            "mgm": "mgm-small",
            "inl": "inl-small",
            "geo-mix-moe": "geo-mix-moe-small",
            "geo-mix-integrator": "geo-mix-integrator-small",
        },
        steps=300,
        batch_size=16,
        block_size=256,
        lr=1e-3,
        new_tokens=32,
        throughput={"hidden_size": 768, "layers": 12, "heads": 12, "intermediate_size": 2560, "block_size": 1024},
        throughput_batch=8,
        check_seconds=300,
    ),
    "toy": Size(
        presets={name: f"{name}-tiny" for name in FAMILIES},
        steps=40,
        batch_size=8,
        block_size=32,
        lr=1e-2,
        new_tokens=8,
        throughput={"hidden_size": 32, "layers": 1, "heads": 2, "intermediate_size": 96, "block_size": 32},
        throughput_batch=2,
        check_seconds=240,
    ),
}


def device() -> str:
    return "cuda" if torch.cuda.is_available() else "cpu"


def counting_blocks(rows: int, length: int, vocab: int, seed: int, span: int = 256):
    """Rows that count on from a random start by a random stride, modulo `span` token ids above the special
    ones: learnable in a few dozen steps whatever the vocabulary, so a falling loss means the step works."""
    from geolm.data.blocks import TokenBlocks

    span = min(span, vocab - 3)
    generator = torch.Generator().manual_seed(seed)
    start = torch.randint(0, span, (rows, 1), generator=generator)
    stride = torch.randint(1, 8, (rows, 1), generator=generator)
    ids = 3 + (start + stride * torch.arange(length)) % span
    return TokenBlocks(ids, ids.clone())


def graphs_compiled() -> int:
    from torch._dynamo.utils import counters

    return int(counters["stats"]["unique_graphs"])


def train_check(family: str, precision: str, size: Size, run_dir: Path) -> dict:
    """Train one family's preset under one precision through the trainer, then check its cached decoding."""
    from geolm import GeoConfig, GeoForCausalLM
    from geolm.training import TrainArgs, train

    config = GeoConfig.from_preset(size.presets[family])
    torch.manual_seed(0)
    model = GeoForCausalLM(config)
    data = counting_blocks(size.batch_size * size.steps, size.block_size, config.vocab_size, seed=0)
    args = TrainArgs(
        steps=size.steps,
        batch_size=size.batch_size,
        lr=size.lr,
        mixed_precision=precision,
        compile=True,
        eval_every=0,
        save_every=0,
        log_every=1,
        quiet=True,
    )
    warm_graphs: list[int] = []  # the count after the warm-up steps

    def on_step(step: int, loss: float) -> None:
        if step == WARMUP_STEPS:
            warm_graphs.append(graphs_compiled())

    if device() == "cuda":
        torch.cuda.reset_peak_memory_stats()
    started = time.perf_counter()
    result = train(model, data, None, args, run_dir, on_step=on_step)
    seconds = time.perf_counter() - started
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    overflow = sum(1 for r in records if r.get("overflow"))
    graphs = graphs_compiled()
    losses = [v for _, v in sorted(result.losses.items()) if math.isfinite(v)]
    window = max(len(losses) // 10, 1)
    first, last = sum(losses[:window]) / window, sum(losses[-window:]) / window
    row = {
        "family": family,
        "preset": size.presets[family],
        "precision": precision,
        "steps": result.step,
        "first_loss": first,
        "last_loss": last,
        "skipped": result.skipped_steps,
        "overflow": overflow,
        "new_graphs": graphs - (warm_graphs[0] if warm_graphs else 0),
        "graphs": graphs,
        "seconds": seconds,
        "peak_gib": torch.cuda.max_memory_allocated() / 2**30 if device() == "cuda" else None,
        **decoding_check(model, size.block_size // 2, size.new_tokens),
    }
    row["passed"] = (
        last < 0.8 * first
        and row["skipped"] == 0
        and overflow <= MAX_OVERFLOW_SHARE * result.step
        and row["new_graphs"] == 0
        and row["decode_equal"]
    )
    return row


@torch.no_grad()
def decoding_check(model, prompt_length: int, new_tokens: int) -> dict:
    """Greedy decoding with the KV cache against one full forward of the same tokens (`geolm.testing`), in
    float32 on the model's device."""
    sequences, cached, full = cached_and_full_logits(model.float(), prompt_length, new_tokens)
    difference = float((cached.float() - full.float()).abs().max())
    same_tokens = bool(torch.equal(full.argmax(-1), sequences[:, prompt_length:]))
    return {"decode_max_diff": difference, "decode_equal": same_tokens and difference <= DECODE_ATOL}


def needs_cuda(row: dict) -> bool:
    return row.get("error") in (FP16_ON_CPU, SYNC_ON_CPU)


def sync_check(size: Size) -> dict:
    """A bf16 training forward and backward of the mixture (without memory) at a capacity factor, under
    `torch.cuda.set_sync_debug_mode("error")`: passes when nothing in it waits for the GPU, as the dispatch at
    capacity promises (docs/experts.md)."""
    from benchmarks.experts_bench import with_ffn_options, without_memory
    from geolm import GeoForCausalLM

    preset = size.presets["mgm"]
    row = {"model": f"{preset} without memory, capacity factor {SYNC_CAPACITY}", "passed": False}
    if device() != "cuda":
        return {**row, "error": SYNC_ON_CPU}
    config = with_ffn_options(without_memory(preset), capacity_factor=SYNC_CAPACITY)
    model = GeoForCausalLM(config).to("cuda").train()
    ids = counting_blocks(size.batch_size, size.block_size, model.config.vocab_size, seed=0).input_ids.to("cuda")

    def step() -> None:
        with torch.autocast("cuda", dtype=torch.bfloat16):
            out = model(ids, use_cache=False)
        (out.logits.float().mean() + out.aux_loss).backward()

    step()  # lazy initialisation (kernels, workspaces) may synchronise once
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        step()
        row["passed"] = True
    except RuntimeError as error:
        row["error"] = str(error).strip().splitlines()[0][:200]
    finally:
        torch.cuda.set_sync_debug_mode("default")
    return row


def run_checks(size_name: str, families: list[str], jobs: int, work: Path) -> list[dict]:
    """Every (family, precision) check, each in its own process; fp16 without CUDA is reported, not run."""
    size = SIZES[size_name]
    plan = [(family, precision) for precision in PRECISIONS for family in families]

    def one(family: str, precision: str) -> dict:
        base = {"family": family, "preset": size.presets[family], "precision": precision, "passed": False}
        if precision == "fp16" and device() != "cuda":
            return {**base, "error": FP16_ON_CPU}
        out = work / f"{family}-{precision}.json"
        command = [sys.executable, str(Path(__file__).resolve()), "--one", family, precision, "--size", size_name]
        command += ["--result", str(out)]
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=size.check_seconds)
        except subprocess.TimeoutExpired:
            return {**base, "error": f"not finished in {size.check_seconds} s"}
        if done.returncode != 0 or not out.is_file():
            lines = [line for line in done.stderr.strip().splitlines() if line.strip()]
            return {**base, "error": lines[-1] if lines else f"exit status {done.returncode}"}
        row = json.loads(out.read_text())
        print(f"  {family} {precision}: {'passed' if row['passed'] else 'FAILED'}", flush=True)
        return row

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        return list(pool.map(lambda pair: one(*pair), plan))


def throughput(size_name: str, families: list[str]) -> dict:
    """Training tokens/s, MFU and peak memory of each family matched to the Llama shape, and HF Llama with SDPA."""
    from transformers import LlamaForCausalLM

    from benchmarks.scaling_bench import VOCAB, Vocabulary
    from geolm import GeoForCausalLM
    from geolm.convert import to_llama_config
    from geolm.experiments.leaderboard import LeaderboardOptions, matched_configs
    from geolm.experiments.measure import TrainingStep, peak_training_memory

    size = SIZES[size_name]
    options = LeaderboardOptions(families=families, **size.throughput)
    configs = {name: config for name, (config, _) in matched_configs(options, Vocabulary()).items()}
    torch.manual_seed(0)
    hf_config = to_llama_config(configs["llama"])
    hf_config._attn_implementation = "sdpa"
    models = {"HF Llama (SDPA)": LlamaForCausalLM(hf_config)}
    models.update({name: GeoForCausalLM(config) for name, config in configs.items()})
    where = device()
    length = size.throughput["block_size"]
    tokens = torch.randint(3, VOCAB, (size.throughput_batch, length), generator=torch.Generator().manual_seed(0))
    tokens = tokens.to(where)
    models = {name: model.to(where) for name, model in models.items()}
    steps = {name: TrainingStep(model, tokens, autocast=torch.bfloat16) for name, model in models.items()}
    seconds = interleaved(steps, repeats=5, warmup=2)
    peak = matmul_peak_flops(dtype=torch.bfloat16)
    rows = {}
    for name, model in models.items():
        with torch.autocast(where, dtype=torch.bfloat16):
            flops = step_flops(model, tokens)
        rows[name] = {
            "parameters": sum(p.numel() for p in model.parameters()),
            "tokens_per_s": tokens.numel() / seconds[name],
            "mfu": flops / seconds[name] / peak,
            "peak_gib": peak_training_memory(model, tokens, autocast=torch.bfloat16) / 2**30,
        }
        del steps[name]
    reference = rows["HF Llama (SDPA)"]
    for row in rows.values():
        row["time_ratio"] = reference["tokens_per_s"] / row["tokens_per_s"]
        row["memory_ratio"] = row["peak_gib"] / reference["peak_gib"]
    return {"rows": rows, "tokens": list(tokens.shape), "matmul_peak_tflops": peak / 1e12}


def environment() -> dict:
    """The device, its driver and the torch build the numbers come from."""
    info = {"machine": machine(), "torch": torch.__version__, "device": "CPU (no CUDA)", "driver": None}
    if torch.cuda.is_available():
        info["device"] = torch.cuda.get_device_name()
        info["cuda"] = torch.version.cuda
        try:
            query = ["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"]
            info["driver"] = subprocess.run(query, capture_output=True, text=True, timeout=30).stdout.strip()
        except (OSError, subprocess.TimeoutExpired):
            info["driver"] = "unknown (nvidia-smi did not answer)"
    return info


def markdown(report: dict) -> str:
    env, size = report["environment"], SIZES[report["size"]]
    lines = [
        "# GPU check",
        "",
        f"Written by `{report['command']}` on {report['date']} in {report['seconds']:.0f} s.",
        f"Device: {env['device']}; driver {env['driver'] or 'none'}; torch {env['torch']}"
        + (f" (CUDA {env['cuda']})" if env.get("cuda") else "")
        + f". Machine: {env['machine']}.",
        "",
        "## Training and cached decoding",
        "",
        f"{size.steps} steps of {size.batch_size} x {size.block_size} tokens through `geolm.training.train` with "
        f"`compile=True`. Passed: the loss fell below 0.8 of its start (means of the first and last tenth), no "
        f"step was skipped as non-finite, at most {MAX_OVERFLOW_SHARE:.0%} fp16 overflow skips, no graph "
        f"compiled after step {WARMUP_STEPS}, and greedy decoding with the cache gave the full forward's tokens "
        f"with logits within {DECODE_ATOL:g} (float32).",
        "",
        "| family | preset | precision | loss first → last | skipped | overflow | new graphs | decode max diff "
        "| peak GiB | seconds | result |",
        "|---|---|---|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for row in report["checks"]:
        if "error" in row:
            lines.append(f"| {row['family']} | {row['preset']} | {row['precision']} | | | | | | | | {row['error']} |")
            continue
        peak = f"{row['peak_gib']:.2f}" if row["peak_gib"] is not None else "n/a"
        lines.append(
            f"| {row['family']} | {row['preset']} | {row['precision']} | {row['first_loss']:.3f} → "
            f"{row['last_loss']:.3f} | {row['skipped']} | {row['overflow']} | {row['new_graphs']} | "
            f"{row['decode_max_diff']:.1e} | {peak} | {row['seconds']:.0f} | "
            f"{'passed' if row['passed'] else 'FAILED'} |"
        )
    sync = report["sync"]
    lines += [
        "",
        "## Host synchronisation",
        "",
        f"One bf16 training forward and backward of {sync['model']} under "
        '`torch.cuda.set_sync_debug_mode("error")`, after a warm-up step: '
        + ("nothing waited for the GPU." if sync["passed"] else f"{sync.get('error', 'failed')}."),
    ]
    speed = report["throughput"]
    shape = size.throughput
    lines += [
        "",
        "## Throughput against HF Llama",
        "",
        f"Every family matched to a Llama of {shape['layers']} layers, width {shape['hidden_size']} "
        f"(the leaderboard's equal-parameter matching), training steps of {speed['tokens'][0]} x "
        f"{speed['tokens'][1]} tokens (forward, backward, AdamW) under bf16 autocast, eager, median of 5 "
        f"alternating repeats. MFU against a measured {speed['matmul_peak_tflops']:.1f} TFLOP/s bf16 matmul.",
        "",
        "| model | parameters | training tokens/s | MFU | peak GiB | time vs HF | memory vs HF |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, row in speed["rows"].items():
        lines.append(
            f"| {name} | {row['parameters'] / 1e6:.1f}M | {row['tokens_per_s']:,.0f} | {row['mfu']:.1%} | "
            f"{row['peak_gib']:.2f} | {row['time_ratio']:.2f}x | {row['memory_ratio']:.2f}x |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", choices=sorted(SIZES), default="small" if torch.cuda.is_available() else "toy")
    parser.add_argument("--families", default=",".join(FAMILIES), help="comma-separated, from: " + ", ".join(FAMILIES))
    parser.add_argument("--jobs", type=int, default=7 if torch.cuda.is_available() else 1, help="checks at once")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "gpu.md")
    parser.add_argument("--one", nargs=2, metavar=("FAMILY", "PRECISION"), help=argparse.SUPPRESS)
    parser.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        with tempfile.TemporaryDirectory(prefix="gpu-check-") as run_dir:
            row = train_check(*args.one, SIZES[args.size], Path(run_dir))
        args.result.write_text(json.dumps(row))
        return
    families = [name.strip() for name in args.families.split(",") if name.strip()]
    unknown = [name for name in families if name not in FAMILIES]
    if unknown or not families:
        parser.error(f"--families: unknown {unknown}; choose from {', '.join(FAMILIES)}")
    started, where = time.perf_counter(), environment()
    print(f"gpu check ({args.size}) on {where['device']}", flush=True)
    with tempfile.TemporaryDirectory(prefix="gpu-check-") as work:
        checks = run_checks(args.size, families, args.jobs, Path(work))
    print("  throughput", flush=True)
    report = {
        "command": "python benchmarks/gpu_check.py " + shlex.join(sys.argv[1:]),
        "date": dt.date.today().isoformat(),
        "size": args.size,
        "environment": where,
        "checks": checks,
        "sync": sync_check(SIZES[args.size]),
        "throughput": throughput(args.size, ["llama", *[f for f in families if f != "llama"]]),
    }
    report["seconds"] = time.perf_counter() - started
    text = markdown(report)
    args.out.write_text(text)
    args.out.with_suffix(".json").write_text(json.dumps(report, indent=2))
    print(text)
    failed = [f"{row['family']} {row['precision']}" for row in checks if not (row["passed"] or needs_cuda(row))]
    if not (report["sync"]["passed"] or needs_cuda(report["sync"])):
        failed.append("host synchronisation")
    if failed:
        raise SystemExit(f"gpu check: {len(failed)} check(s) failed: {', '.join(failed)} (see {args.out})")


if __name__ == "__main__":
    main()
