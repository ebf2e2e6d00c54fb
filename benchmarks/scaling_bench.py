"""How each family's cost grows against llama's: training tokens/s and the peak memory of a training step as
the sequence grows (128 to 2048 tokens at width 128) and as the width grows (64 to 512 at 256 tokens).

Every family is the leaderboard's (`geolm.experiments.leaderboard`): its -tiny preset's parts on one shape,
matched to the llama's parameter count (active per token for the mixtures). A step holds the same number of
tokens at every length (batch x length = 4096), so tokens/s falls only where a token's cost grows with the
length; the families' repeats alternate at every point.
"""

from __future__ import annotations

from pathlib import Path

import torch

from benchmarks.common import interleaved
from geolm.experiments.leaderboard import FAMILIES, LeaderboardOptions, matched_configs
from geolm.experiments.measure import TrainingStep, peak_training_memory
from geolm.modeling import GeoForCausalLM
from geolm.params import count_parameters

LENGTHS = (128, 256, 512, 1024, 2048)
WIDTHS = (64, 128, 256, 512)
BASE_WIDTH, BASE_LENGTH, STEP_TOKENS, HEAD_WIDTH, VOCAB = 128, 256, 4096, 32, 2048
REPEATS = 3
PLOT = Path(__file__).resolve().parent.parent / "docs" / "scaling.png"


class Vocabulary:
    """What the family configs read of a tokenizer: its size and special ids."""

    pad_token_id, bos_token_id, eos_token_id = 0, 1, 2

    def __len__(self) -> int:
        return VOCAB


def measure_point(width: int, length: int) -> dict[str, dict[str, float]]:
    """Training tokens/s and peak step memory (MiB) of every family at one width and sequence length."""
    options = LeaderboardOptions(
        hidden_size=width, heads=width // HEAD_WIDTH, intermediate_size=3 * width, block_size=length
    )
    batch = STEP_TOKENS // length
    tokens = torch.randint(3, VOCAB, (batch, length), generator=torch.Generator().manual_seed(0))
    models = {}
    for name, (config, _) in matched_configs(options, Vocabulary()).items():
        torch.manual_seed(0)
        models[name] = GeoForCausalLM(config)
    seconds = interleaved({name: TrainingStep(model, tokens) for name, model in models.items()}, repeats=REPEATS)
    return {
        name: {
            "tokens_per_s": STEP_TOKENS / seconds[name],
            "peak_mib": peak_training_memory(model, tokens) / 2**20,
            "parameters": count_parameters(model),
        }
        for name, model in models.items()
    }


def run() -> dict:
    lengths = {}
    for length in LENGTHS:
        print(f"  length {length}", flush=True)
        lengths[length] = measure_point(BASE_WIDTH, length)
    widths = {}
    for width in WIDTHS:
        print(f"  width {width}", flush=True)
        widths[width] = measure_point(width, BASE_LENGTH)
    result = {"lengths": lengths, "widths": widths, "step_tokens": STEP_TOKENS, "repeats": REPEATS}
    result["plot"] = str(plot(result))
    return result


# What each family adds to llama's work, per token and per score: the reasons its costs grow as they do.
WHY = {
    "geometric-llama": "low-rank factor products on the modulated projections and a coordinate context carried "
    "along the sequence, all per token",
    "curvature": "per score, the κ-stereographic distance (norms and a squared distance in float32) and the "
    "geodesic softmax with its own backward in place of one fused SDPA kernel; its length x length distances "
    "are kept for the backward pass, where SDPA keeps none",
    "mgm": "per token, routing to the top 2 of 7 experts, sorting the tokens by expert and combining them "
    "back (dispatch), a cost that matrix products outgrow as the width grows; and the memory slots, whose read "
    "is one masked attention of every token over all the sequence's tokens and every segment's slots, and whose "
    "writes (one per 8 tokens) each attend over the whole sequence under a mask: work and memory that grow "
    "with the square of the length (a read and write by blocks would grow linearly)",
    "inl": "per token, up to 4 iterations of the controller (all 4 in these untrained models), "
    "each iteration's activations kept for the backward; nothing per score, so attention's growing share "
    "shrinks its ratio as the sequence grows",
    "geo-mix-moe": "curvature's per-score work, coordinate modulation, and the experts' dispatch and memory "
    "slots, two costs that grow with the square of the length",
    "geo-mix-integrator": "curvature's per-score work, coordinate modulation, and the integrator's iterations",
}
GROWS = 1.15  # a ratio that grows by more than this from the first point to the last counts as growing faster


def _change(points: dict, name: str, axis: str) -> str:
    """How `name`'s time and memory ratios to llama's move from the first point of `points` to the last."""
    first, last = next(iter(points)), list(points)[-1]
    said = []
    ratios = {"time": _ratios(points, "tokens_per_s", True), "memory": _ratios(points, "peak_mib", False)}
    for what, ratio in ratios.items():
        change = ratio[last][name] / ratio[first][name]
        pace = "faster than" if change > GROWS else "slower than" if change < 1 / GROWS else "as"
        said.append(f"{what} {ratio[first][name]:.2f}x → {ratio[last][name]:.2f}x ({pace} llama's)")
    return f"{axis} {first} → {last}: {', '.join(said)}"


def _growth(result: dict) -> list[str]:
    """One line per family: how its ratios to llama's change along both axes, and what it adds."""
    names = [name for name in next(iter(result["lengths"].values())) if name != "llama"]
    return [
        f"- **{name}**: {_change(result['lengths'], name, 'length')}; {_change(result['widths'], name, 'width')}. "
        f"It adds {WHY.get(name, '-')}."
        for name in names
    ]


def _ratios(points: dict, key: str, invert: bool) -> dict:
    """Each family's number over llama's at every point (for tokens/s inverted: how many times longer)."""
    return {
        point: {
            name: (row["llama"][key] / value[key] if invert else value[key] / row["llama"][key])
            for name, value in row.items()
        }
        for point, row in points.items()
    }


def _table(points: dict, axis: str) -> list[str]:
    time_ratio, memory_ratio = _ratios(points, "tokens_per_s", True), _ratios(points, "peak_mib", False)
    names = list(next(iter(points.values())))
    lines = [
        "| family | " + " | ".join(f"{axis} {point}" for point in points) + " |",
        "|---|" + "---:|" * len(points),
    ]
    for name in names:
        cells = [
            f"{points[p][name]['tokens_per_s']:,.0f} tok/s ({time_ratio[p][name]:.2f}x), "
            f"{points[p][name]['peak_mib']:,.0f} MiB ({memory_ratio[p][name]:.2f}x)"
            for p in points
        ]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return lines


def markdown(result: dict) -> str:
    lines = [
        f"Training steps of {result['step_tokens']} tokens (forward, backward, AdamW), median of "
        f"{result['repeats']} alternating repeats; the families are the leaderboard's, matched to llama's "
        "parameters at each width. Each cell: training tokens/s (how many times longer than llama's step), peak "
        "memory of the step (its ratio to llama's).",
        "",
        "![training tokens/s and peak memory of every family against sequence length and width](scaling.png)",
        "",
        f"As the sequence grows (width {BASE_WIDTH}, batch x length = {result['step_tokens']}):",
        "",
        *_table(result["lengths"], "length"),
        "",
        f"As the width grows (length {BASE_LENGTH}, heads {HEAD_WIDTH} wide, SwiGLU 3x the width for llama):",
        "",
        *_table(result["widths"], "width"),
        "",
        "How each family's ratios to llama's move from the first point to the last (\"faster than llama's\": the "
        f"ratio grows by more than {GROWS:.2f} times), and what each family adds to llama's work:",
        "",
        *_growth(result),
    ]
    return "\n".join(lines)


def plot(result: dict) -> str:
    """`PLOT` (docs/scaling.png): tokens/s and peak memory against length and against width, per family."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from geolm.files import write_atomic

    figure = Figure(figsize=(11, 8))
    FigureCanvasAgg(figure)
    axes = figure.subplots(2, 2)
    for column, (key, label) in enumerate((("lengths", "sequence length"), ("widths", "width (hidden size)"))):
        points = result[key]
        xs = [int(p) for p in points]
        for name in FAMILIES:
            if name not in next(iter(points.values())):
                continue
            for row, (metric, ylabel) in enumerate((("tokens_per_s", "training tokens/s"), ("peak_mib", "peak MiB"))):
                axes[row][column].plot(xs, [points[p][name][metric] for p in points], marker="o", label=name)
                axes[row][column].set_ylabel(ylabel)
                axes[row][column].set_xlabel(label)
                axes[row][column].set_xscale("log", base=2)
                axes[row][column].set_yscale("log")
    axes[0][0].legend(fontsize="small")
    axes[0][0].set_title("cost against sequence length")
    axes[0][1].set_title("cost against width")
    figure.tight_layout()
    write_atomic(PLOT, lambda temp: figure.savefig(temp, dpi=110, format="png"))
    return PLOT.name
