"""`geolm train --compile` against eager training, through the trainer itself, for five families; and the
integrator's compiled time against the compiled llama of equal parameters (issue goal: at most 3.5x)."""

from __future__ import annotations

import json
import statistics
import tempfile
from pathlib import Path

import torch

from geolm import GeoConfig, GeoForCausalLM
from geolm.data import TokenBlocks
from geolm.training import TrainArgs, train

FAMILIES = {
    "baseline": "llama-10m",
    "coordinate": "geometric-llama-10m",
    "curvature": "curvature-small",
    "integrator": "inl-small",
    "experts": "mgm-small",
}
BATCH, BLOCK, STEPS, SKIP = 8, 256, 14, 4  # the first SKIP steps (compilation, warm-up) are not timed


def tokens_per_s(preset: str, compiled: bool, root: Path) -> float:
    """Median tokens/s the trainer logs over the steps after the first SKIP."""
    torch.manual_seed(0)
    model = GeoForCausalLM(GeoConfig.from_preset(preset))
    ids = torch.randint(3, model.config.vocab_size, (64, BLOCK), generator=torch.Generator().manual_seed(0))
    args = TrainArgs(
        steps=STEPS, batch_size=BATCH, warmup_steps=2, eval_every=0, save_every=0, log_every=1, compile=compiled
    )
    run_dir = root / f"{preset}-{'compiled' if compiled else 'eager'}"
    train(model, TokenBlocks(ids, ids.clone()), None, args, run_dir)
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return statistics.median(r["tokens_per_s"] for r in records if r.get("tokens_per_s") and r["step"] > SKIP)


def run() -> dict:
    """Eager and compiled training tokens/s per family and the speed-up (compiled over eager)."""
    result = {"shape": f"batch {BATCH} x {BLOCK} tokens, forward+backward+AdamW, median of steps {SKIP + 1}-{STEPS}"}
    with tempfile.TemporaryDirectory() as root:
        for family, preset in FAMILIES.items():
            eager = tokens_per_s(preset, False, Path(root))
            compiled = tokens_per_s(preset, True, Path(root))
            result[family] = {"preset": preset, "eager": eager, "compiled": compiled, "speedup": compiled / eager}
    result["integrator_vs_llama"] = {
        mode: result["baseline"][mode] / result["integrator"][mode] for mode in ("eager", "compiled")
    }
    return result


def markdown(result: dict) -> str:
    lines = [
        f"Training through `geolm.training.train` ({result['shape']}); `compile=True` is `geolm train --compile`.",
        "",
        "| family | preset | eager tokens/s | compiled tokens/s | compiled / eager |",
        "|---|---|---:|---:|---:|",
    ]
    for family in FAMILIES:
        r = result[family]
        lines.append(f"| {family} | {r['preset']} | {r['eager']:.0f} | {r['compiled']:.0f} | {r['speedup']:.2f}x |")
    ratio = result["integrator_vs_llama"]
    lines += [
        "",
        f"inl-small against llama-10m (equal parameters): {ratio['eager']:.2f}x the training time eager, "
        f"{ratio['compiled']:.2f}x compiled (goal: at most 3.5x; "
        f"{'met' if ratio['compiled'] <= 3.5 else 'not met'}). Compiled, the iteration loop is part of the "
        "model's one graph. What bounds it is the work: in training every token runs all 10 iterations, whose "
        "controller products make inl-small's matrix FLOPs per step 3.97 times llama-10m's (FlopCounterMode, "
        "one 256-token row), so 3.5x would need a higher FLOP rate than llama's. The experts' dispatch runs "
        "eagerly inside a compiled model (its sizes are known only at run time), and each geometry's experts run "
        "compiled on their own (`experts_implementation` 'auto'; their compilation is in the untimed steps).",
    ]
    return "\n".join(lines)
