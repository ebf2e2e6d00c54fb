"""`geolm demo` (`make demo`): train a small model on the embedded corpus, then ask it held-out questions."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console
from rich.panel import Panel
from rich.table import Table

from geolm.errors import ConfigError

console = Console()


def demo(
    out: Path = typer.Option(
        Path("runs/demo"), help="run directory (taken: the demo uses the next free OUT-2, OUT-3...)"
    ),
    steps: int = typer.Option(360, help="optimizer steps (the default fits about 5 minutes on 2 CPU cores)"),
    minutes: float | None = typer.Option(
        None, min=0.1, help="train for this many minutes instead of --steps (the schedule fitted to them)"
    ),
    preset: str | None = typer.Option(
        None, help="model preset (default: geometric-llama-demo on a CPU, geometric-llama-10m on a GPU)"
    ),
    seed: int = typer.Option(0, help="seed of everything"),
    questions: int = typer.Option(20, min=1, help="held-out questions to score (three are shown)"),
) -> None:
    """Train `preset` on the embedded WordNet corpus, then score its answers to held-out questions.

    Example: geolm demo --minutes 5
    """
    from geolm.experiments.demo import answer_with_untrained, demo_preset, train_demo_model
    from geolm.experiments.questions import answers_record, score
    from geolm.files import write_atomic
    from geolm.systems import answer_explainers

    run_dir = free_run_dir(out)
    if run_dir != out:
        console.print(f"{out} already holds a run; this demo trains a new one in [bold]{run_dir}[/]", soft_wrap=True)
    chosen = preset or demo_preset()
    length = f"{minutes:g} minutes" if minutes else f"{steps} steps"
    device = "" if preset else " (the demo's preset for this device)"
    console.print(
        Panel.fit(
            f"Training [bold]{chosen}[/]{device} for {length} on the embedded WordNet corpus "
            "(definitions, dialogues, reasoning, minimal pairs).\nThe held-out questions below come from "
            "synsets that training never sees.",
            title="geolm demo",
        )
    )
    model, tokenizer, best_val_loss = train_demo_model(run_dir, chosen, steps, seed, minutes)
    answers, baseline = answer_with_untrained(model, tokenizer, questions, seed)
    for answer in answers[:3]:
        console.print(
            Panel(
                f"[bold]Q:[/] {answer.question}\n[bold]model:[/] {answer.answer}\n"
                f"[dim]reference: {answer.reference}[/]",
                expand=False,
            )
        )
    trained_score, untrained_score = score(answers), score(baseline)
    record = {"score": trained_score, "untrained_score": untrained_score, "answers": answers_record(answers)}
    write_atomic(run_dir / "answers.json", lambda temp: temp.write_text(json.dumps(record, indent=2), encoding="utf-8"))
    console.print(score_table(trained_score, untrained_score))
    first = answers[0].answer or "A heron is a wading bird."
    for explain in answer_explainers():  # what the model's families say about its first answer
        explained = explain(model, tokenizer, first, run_dir)
        if explained is not None:
            console.print(Panel(explained[1], title=f"{explained[0]} of the first answer", expand=False))
    console.print(
        f"best validation loss {best_val_loss:.3f}; loss curves: {run_dir / 'loss.png'}; "
        f"answers: {run_dir / 'answers.json'}; checkpoints: {run_dir / 'best'} and {run_dir / 'last'}\n"
        "Next, try:\n"
        f"  .venv/bin/geolm chat {run_dir}\n"
        f'  .venv/bin/geolm generate {run_dir} --prompt "A heron is"\n'
        f"  .venv/bin/geolm verify {run_dir / 'best'}",
        soft_wrap=True,  # commands stay on one line, copyable, however narrow the terminal
    )


def free_run_dir(out: Path) -> Path:
    """`out` if it is new or empty, else the first of `out-2`, `out-3`, ... that does not exist yet."""
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out} is a file, not a directory")
    if not out.exists() or not any(out.iterdir()):
        return out
    number = 2
    while out.with_name(f"{out.name}-{number}").exists():
        number += 1
    return out.with_name(f"{out.name}-{number}")


def score_table(trained: dict, untrained: dict) -> Table:
    """Trained against untrained: how many answers name the asked word, and a category word."""
    table = Table(title=f"{trained['questions']} held-out questions, greedy answers")
    table.add_column("answers that name")
    table.add_column("trained", justify="right")
    table.add_column("untrained", justify="right")
    for key, label in (("names_word", "the asked word"), ("names_category", "a WordNet category word")):
        table.add_row(label, f"{trained[key]:.0%}", f"{untrained[key]:.0%}")
    return table
