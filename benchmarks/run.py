"""Run the benchmark sections and write docs/benchmarks.md (machine, command, results, ratios).

Each section's latest results are kept in docs/benchmarks.json, so `--only NAME` refreshes one section and
leaves the others as they were measured (each with its own machine line and date).
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import json
import shlex
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.common import machine  # noqa: E402

# section name -> (module with run() and markdown(result), title)
SECTIONS = {
    "baseline": ("benchmarks.baseline_bench", "Baseline model against HF Llama"),
    "coordinate": ("benchmarks.coordinate_bench", "Coordinate-modulated Llama against the plain Llama"),
    "quality": ("benchmarks.quality_bench", "Coordinate-modulated against plain Llama: validation loss"),
    "curvature": ("benchmarks.curvature_bench", "Curvature attention against SDPA attention"),
    "curvature_gpu": ("benchmarks.curvature_gpu_bench", "Curvature attention on a GPU: FlexAttention against SDPA"),
    "experts": ("benchmarks.experts_bench", "Mixture of geometric experts against dense Llamas"),
    "integrator": ("benchmarks.integrator_bench", "Integrator layers against a Llama of equal parameters"),
    "scaling": ("benchmarks.scaling_bench", "How each family's cost grows with sequence length and width"),
    "mfu": ("benchmarks.mfu_bench", "Model FLOP utilisation of every family"),
    "eval": ("benchmarks.eval_bench", "Three families on the WordNet tasks of lm-evaluation-harness"),
    "compile": ("benchmarks.compile_bench", "Compiled against eager training (geolm train --compile)"),
    "terrain": ("benchmarks.terrain_bench", "Terrain analysis of MiniLM"),
    "demo": ("benchmarks.demo_bench", "The demo's answers to held-out questions"),
    "startup": ("benchmarks.startup_bench", "Start-up time of the command line"),
    "data": ("benchmarks.data_bench", "Token shards: tokenization and training throughput"),
}
ON_DEMAND = {"curvature_gpu"}  # needs a GPU: run with --only (make gpu-check), never by default


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--only", nargs="*", choices=sorted(SECTIONS), help="run only these sections")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks.md")
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's own choice)")
    parser.add_argument(
        "--render",
        nargs="+",
        choices=sorted(SECTIONS),
        help="measure nothing: rewrite these sections' text from their stored results (after a change of wording)",
    )
    args = parser.parse_args()
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    store_path = args.out.with_suffix(".json")
    store = json.loads(store_path.read_text()) if store_path.exists() else {}
    command = "python benchmarks/run.py" + (f" --only {shlex.join(args.only)}" if args.only else "")
    command += f" --threads {args.threads}" if args.threads else ""
    command = "make bench" if command == "python benchmarks/run.py" else command
    for name in args.render or []:
        store[name]["markdown"] = importlib.import_module(SECTIONS[name][0]).markdown(store[name]["result"])
    for name in [] if args.render else args.only or [name for name in SECTIONS if name not in ON_DEMAND]:
        module_name, title = SECTIONS[name]
        print(f"== {title}", flush=True)
        module = importlib.import_module(module_name)
        result = module.run()
        store[name] = {
            "title": title,
            "machine": machine(),
            "command": command,
            "date": dt.date.today().isoformat(),
            "result": result,
            "markdown": module.markdown(result),
        }
        print(store[name]["markdown"], flush=True)
    store_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = store_path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(store, indent=2, default=float))
    tmp.replace(store_path)
    lines = [
        "# Benchmarks",
        "",
        "Written by `make bench` (benchmarks/run.py). Every comparison runs both contenders in one process,",
        "alternating repeats, and reports medians; ratios are the numbers to compare across machines.",
        "",
    ]
    for name in SECTIONS:
        if name in store:
            entry = store[name]
            lines += [
                f"## {entry['title']}",
                "",
                f"Machine: {entry['machine']}. Command: `{entry['command']}`. Date: {entry['date']}.",
                "",
                entry["markdown"],
                "",
            ]
    args.out.write_text("\n".join(lines))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
