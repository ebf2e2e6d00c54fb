"""`geolm verify`: the honest parameter table of a preset or checkpoint, then smoke and correctness checks."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.table import Table

from geolm.errors import ConfigError

if TYPE_CHECKING:
    from transformers import PreTrainedModel


def verify(
    checkpoint: Path | None = typer.Argument(None, help="checkpoint or run directory to verify"),
    preset: str | None = typer.Option(None, "--preset", help="verify a freshly initialised preset instead"),
    seed: int = typer.Option(0, help="seed for initialisation and the random test tokens"),
    count_only: bool = typer.Option(
        False, "--count-only", help="with --preset: count on the meta device (no memory used) and run no checks"
    ),
) -> None:
    """Print parameters by component, then run forward, backward, generate, causality and cache checks.

    Example: geolm verify --preset llama-tiny
    """
    if (checkpoint is None) == (preset is None):
        raise ConfigError("give exactly one of a CHECKPOINT path or --preset NAME")
    if count_only and preset is None:
        raise ConfigError("--count-only counts a --preset; a checkpoint's weights are loaded to be checked")
    import torch

    torch.manual_seed(seed)
    console = Console()
    if count_only:
        with torch.device("meta"):
            console.print(_parameter_rich_table(_load(None, preset), preset))
        return
    model = _load(checkpoint, preset)
    console.print(_parameter_rich_table(model, checkpoint or preset))
    failures = 0
    for name, check in _checks(model, seed):
        try:
            detail = check()
            console.print(f"[green]ok[/]   {name}{': ' + detail if detail else ''}")
        except Exception as err:  # every failed check is reported, then the exit code says so
            failures += 1
            console.print(f"[red]FAIL[/] {name}: {err}")
    if failures:
        console.print(f"[red]{failures} check(s) failed[/]")
        raise typer.Exit(1)
    console.print("[green]all checks passed[/]")


def _load(checkpoint: Path | None, preset: str | None) -> PreTrainedModel:
    if preset is not None:
        from geolm.modeling import GeoForCausalLM
        from geolm.presets import preset_config

        return GeoForCausalLM(preset_config(preset))
    from geolm.inference.loading import load_for_inference

    model, _ = load_for_inference(checkpoint)
    return model


def _parameter_rich_table(model: PreTrainedModel, title: object) -> Table:
    from geolm.params import human, parameter_table

    frame = parameter_table(model)
    table = Table(title=f"parameters of {title}")
    for column in ("component", "parameters", "trainable", "active per token", "share"):
        table.add_column(column, justify="left" if column == "component" else "right")
    for row in frame.itertuples():
        table.add_row(
            row.component,
            f"{row.parameters:,} ({human(row.parameters)})",
            f"{row.trainable:,}",
            f"{row.active:,}",
            f"{row.share:.1%}",
        )
    total, active = int(frame["parameters"].sum()), int(frame["active"].sum())
    trainable = f"{int(frame['trainable'].sum()):,}"
    counted = (f"{total:,} ({human(total)})", trainable, f"{active:,} ({human(active)})")
    table.add_row("total", *counted, "100.0%", style="bold")
    if getattr(model.config, "tie_word_embeddings", False):
        table.caption = "output projection tied to the embeddings (counted once, under embeddings)"
    return table


def _checks(model: PreTrainedModel, seed: int) -> list[tuple[str, Callable[[], str]]]:
    import torch

    from geolm.testing import assert_cache_matches_forward, assert_causal

    vocab = model.config.vocab_size
    length = min(16, model.config.max_position_embeddings)
    tokens = torch.randint(0, vocab, (2, length), generator=torch.Generator().manual_seed(seed))

    def forward() -> str:
        with torch.no_grad():
            logits = model.eval()(tokens).logits
        if logits.shape != (2, length, vocab) or not torch.isfinite(logits).all():
            raise AssertionError(f"logits of shape {tuple(logits.shape)}, finite: {bool(torch.isfinite(logits).all())}")
        return f"logits {tuple(logits.shape)}"

    def backward() -> str:
        model.train().zero_grad()
        loss = model(tokens, labels=tokens).loss
        loss.backward()
        missing = [n for n, p in model.named_parameters() if p.requires_grad and p.grad is None]
        bad = [n for n, p in model.named_parameters() if p.grad is not None and not torch.isfinite(p.grad).all()]
        model.zero_grad()
        if missing or bad or not torch.isfinite(loss):
            raise AssertionError(f"loss {loss.item():.4g}; no gradient: {missing[:5]}; non-finite: {bad[:5]}")
        return f"loss {loss.item():.4f} (ln vocab = {torch.log(torch.tensor(float(vocab))).item():.4f})"

    def generate() -> str:
        out = model.eval().generate(
            tokens[:, :4], max_new_tokens=8, do_sample=False, pad_token_id=model.config.pad_token_id
        )
        if out.shape[1] != 12:
            raise AssertionError(f"expected 12 tokens, got {out.shape[1]}")
        return "8 new tokens, greedy"

    def causality() -> str:
        assert_causal(model, length=min(10, length))
        return "no position depends on later tokens"

    def cache() -> str:
        assert_cache_matches_forward(model, prompt_length=4, new_tokens=6)
        return "cached generate() equals a full forward"

    return [
        ("forward", forward),
        ("backward", backward),
        ("generate", generate),
        ("causality", causality),
        ("cache", cache),
    ]
