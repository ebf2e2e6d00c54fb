"""`analyze()`: run the chosen batteries on one model; `describe()`: say what a run would analyse."""

from __future__ import annotations

import platform
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from threadpoolctl import threadpool_limits
from transformers import PreTrainedModel

from geolm.devices import default_device
from geolm.errors import CheckpointError, ConfigError
from geolm.terrain.batteries import BATTERIES, BatteryResult
from geolm.terrain.batteries.base import NOT_APPLICABLE
from geolm.terrain.categories import CategorySource, WordCategories
from geolm.terrain.context import TerrainContext, TerrainOptions
from geolm.terrain.loading import LoadedModel, check_model_dir, resolve
from geolm.terrain.names import ParamName, classify
from geolm.terrain.report import TerrainReport, markdown_table
from geolm.terrain.selection import LayerSelector
from geolm.terrain.taxonomy import Taxonomy

TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "tokenizer.model", "spiece.model")


def select_batteries(names: Sequence[str] | None) -> list[str]:
    """Battery names in run order; all of them when `names` is empty or None."""
    if not names:
        return list(BATTERIES)
    unknown = [n for n in names if n not in BATTERIES]
    if unknown:
        raise ConfigError(f"unknown battery {unknown[0]!r}; available: {', '.join(BATTERIES)}")
    return [n for n in BATTERIES if n in names]


def versions() -> dict[str, str]:
    import numpy
    import scipy
    import transformers

    import geolm

    return {
        "geolm": geolm.__version__,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "numpy": numpy.__version__,
        "scipy": scipy.__version__,
        "pandas": pd.__version__,
    }


def overall_status(result: BatteryResult) -> str:
    """ "ok", the one skip reason shared by every row, or "partial" with the count and the reasons.

    Rows marked not applicable (what the architecture lacks, such as T5's position bias in BERT) count as ok.
    """
    statuses = pd.concat([f["status"] for f in result.frames.values()], ignore_index=True)
    if statuses.str.startswith(NOT_APPLICABLE).all():
        return str(statuses.iloc[0])
    bad = statuses[(statuses != "ok") & ~statuses.str.startswith(NOT_APPLICABLE)]
    if bad.empty:
        return "ok"
    if len(bad) == len(statuses) and bad.nunique() == 1:
        return str(bad.iloc[0])
    reasons = "; ".join(bad.unique()[:3])
    return f"partial ({len(bad)} of {len(statuses)} rows not ok: {reasons})"


def _categories(categories: CategorySource | Mapping[str, Sequence[str]] | None) -> CategorySource | None:
    if categories is None or hasattr(categories, "categories"):
        return categories  # type: ignore[return-value]
    return WordCategories("custom", dict(categories))


def analyze(
    model_or_path: str | Path | PreTrainedModel | LoadedModel,
    *,
    batteries: Sequence[str] | None = None,
    layers: str | None = None,
    seed: int = 0,
    out_dir: str | Path | None = None,
    tokenizer: Any | None = None,
    taxonomy: Taxonomy | Iterable[Sequence] | None = None,
    categories: CategorySource | Mapping[str, Sequence[str]] | None = None,
    options: TerrainOptions | None = None,
    device: str | torch.device | None = None,
    progress: bool = True,
) -> TerrainReport:
    """Measure the geometry of a local Hugging Face model directory (or a model in memory).

    `batteries` picks from embedding, hidden, weights, wordnet (all by default); `layers` selects layers by
    index ("0,2-3") or rows by name glob; `taxonomy` is any iterable of (synset_id, lemmas, hypernym_ids[,
    lexname]) for the WordNet battery; `categories` replaces the built-in category word lists. With `out_dir`
    the report is written there (CSV/JSON per frame, PNG figures, report.md, summary.json).
    """
    names = select_batteries(batteries)
    selector = LayerSelector(layers)
    loaded = resolve(model_or_path, tokenizer)
    dev = torch.device(device) if device else default_device()
    loaded.model.to(dev)
    ctx = TerrainContext(
        loaded=loaded,
        seed=seed,
        selector=selector,
        options=options or TerrainOptions(),
        categories=_categories(categories),
        taxonomy=taxonomy if taxonomy is None or isinstance(taxonomy, Taxonomy) else Taxonomy(taxonomy),
        device=dev,
        progress=progress,
    )
    frames: dict[str, pd.DataFrame] = {}
    batteries_run: dict[str, dict[str, Any]] = {}
    headlines: dict[str, dict[str, Any]] = {}
    start = time.perf_counter()
    for name in names:
        t0 = time.perf_counter()
        # numpy's BLAS on one thread: the batteries make many small LAPACK calls, which on a busy 2-core
        # machine ran up to 40x slower with two BLAS threads fighting for the cores (and barely faster idle).
        with threadpool_limits(limits=1, user_api="blas"):
            result = BATTERIES[name].run(ctx)
        frames.update(result.frames)
        batteries_run[name] = {
            "status": overall_status(result),
            "seconds": round(time.perf_counter() - t0, 2),
        }
        headlines[name] = result.summary
    summary = {
        "model": loaded.source,
        "model_class": type(loaded.model).__name__,
        "kind": loaded.kind,
        "tokenizer": loaded.tokenizer_note,
        "seed": seed,
        "layers": layers,
        "device": str(dev),
        "options": asdict(ctx.options),
        "batteries": batteries_run,
        "headlines": headlines,
        "elapsed_s": round(time.perf_counter() - start, 2),
        "config": loaded.config.to_dict(),
        "versions": versions(),
    }
    report = TerrainReport(frames=frames, summary=summary)
    if out_dir is not None:
        report.save(out_dir)
    return report


@dataclass
class TerrainPlan:
    """What `analyze` would do: the model, the batteries (and why one would skip) and the selected tensors."""

    model: str
    kind: str
    tokenizer: bool
    batteries: pd.DataFrame
    tensors: pd.DataFrame

    def to_markdown(self) -> str:
        return "\n".join(
            [
                f"model: {self.model} ({self.kind}); tokenizer: {'yes' if self.tokenizer else 'no'}",
                "",
                markdown_table(self.batteries, max_rows=100),
                "",
                f"{len(self.tensors)} tensors selected (biases and buffers are not analysed)",
                "",
                markdown_table(self.tensors, max_rows=10_000),
            ]
        )


def _header_shapes(path: Path) -> dict[str, tuple[int, ...]]:
    """Tensor names and shapes from the safetensors headers, without reading any weights."""
    from safetensors import safe_open

    shapes = {}
    for file in sorted(path.glob("*.safetensors")):
        with safe_open(file, framework="pt") as f:
            for key in f.keys():  # noqa: SIM118 (safe_open is not a mapping)
                shapes[key] = tuple(f.get_slice(key).get_shape())
    return shapes


def _plan_source(model_or_path: Any) -> tuple[str, str, bool, dict[str, tuple[int, ...]]]:
    if isinstance(model_or_path, (PreTrainedModel, LoadedModel)):
        loaded = resolve(model_or_path)
        shapes = {n: tuple(p.shape) for n, p in loaded.model.named_parameters()}
        return loaded.source, loaded.kind, loaded.tokenizer is not None, shapes
    from transformers import AutoConfig

    path = check_model_dir(model_or_path)
    try:
        config = AutoConfig.from_pretrained(path, local_files_only=True)
    except (OSError, ValueError, KeyError) as err:
        raise CheckpointError(f"{path}: cannot read config.json ({err})") from None
    archs = getattr(config, "architectures", None) or []
    kind = (
        "encoder-decoder"
        if getattr(config, "is_encoder_decoder", False)
        else "decoder"
        if any(a.endswith(("ForCausalLM", "LMHeadModel")) for a in archs)
        else "encoder"
    )
    tokenizer = any((path / f).is_file() for f in TOKENIZER_FILES)
    return str(path), kind, tokenizer, _header_shapes(path)


def analysed_by(pn: ParamName, ndim: int) -> str:
    """Which part of the weight battery reads a tensor ("" for biases and buffers, which none does)."""
    if pn.kind == "position_bias":
        return "weights: position_bias"
    if pn.kind == "norm":
        return "weights: norm_scales" if ndim == 1 and pn.name.endswith("weight") else ""
    if ndim != 2:
        return ""
    return "embedding, weights" if pn.kind == "embedding" else "weights"


def describe(
    model_or_path: str | Path | PreTrainedModel | LoadedModel,
    *,
    batteries: Sequence[str] | None = None,
    layers: str | None = None,
    taxonomy: Any | None = None,
) -> TerrainPlan:
    """Dry run: which batteries would run (or skip, and why) and which tensors the layer selection keeps.

    Reads only config.json, the tokenizer file names and the safetensors headers; no weights are loaded.
    """
    names = select_batteries(batteries)
    selector = LayerSelector(layers)
    source, kind, has_tokenizer, shapes = _plan_source(model_or_path)
    rows = []
    for name in names:
        battery = BATTERIES[name]
        missing = [
            n
            for n in battery.needs
            if (n == "tokenizer" and not has_tokenizer) or (n == "taxonomy" and taxonomy is None)
        ]
        partial = [n for n in battery.needs if " for " in n and not has_tokenizer]
        will = f"skipped: no {missing[0]}" if missing else (f"partial: needs {partial[0]}" if partial else "runs")
        rows.append({"battery": name, "plan": will, "measures": battery.description})
    tensors = []
    for name, shape in shapes.items():
        pn = classify(name)
        used_by = analysed_by(pn, len(shape))
        if used_by and selector.accepts(name, pn.layer):
            tensors.append(
                {
                    "name": name,
                    "kind": pn.kind,
                    "group": pn.group,
                    "layer": pn.layer,
                    "shape": "x".join(map(str, shape)),
                    "analysed_by": used_by,
                }
            )
    return TerrainPlan(
        model=source,
        kind=kind,
        tokenizer=has_tokenizer,
        batteries=pd.DataFrame(rows),
        tensors=pd.DataFrame(tensors, columns=["name", "kind", "group", "layer", "shape", "analysed_by"]),
    )
