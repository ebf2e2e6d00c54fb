"""`geolm demo` (`make demo`): train a small model on the embedded corpus, then ask it held-out questions."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.panel import Panel

console = Console()


def demo(
    out: Path = typer.Option(Path("runs/demo"), help="run directory"),
    steps: int = typer.Option(360, help="optimizer steps (the default fits about 5 minutes on 2 CPU cores)"),
    preset: str = typer.Option("geometric-llama-demo", help="model preset"),
    seed: int = typer.Option(0, help="seed of everything"),
) -> None:
    """Train `preset` on the embedded WordNet corpus, answer three held-out questions, say what to try next."""
    from geolm.cli.train import curriculum_and_data, prepare_run
    from geolm.data.corpus import heldout_questions
    from geolm.inference.generation import SamplingOptions
    from geolm.inference.loading import load_for_inference
    from geolm.inference.responder import ResponseGenerator
    from geolm.training import TrainArgs, train

    console.print(
        Panel.fit(
            f"Training [bold]{preset}[/] for {steps} steps on the embedded WordNet corpus "
            "(definitions, dialogues, reasoning, minimal pairs).\nThe held-out questions below come from "
            "synsets that training never sees.",
            title="geolm demo",
        )
    )
    run = prepare_run(
        preset=preset,
        config_file=None,
        data=None,
        out=out,
        resume=None,
        seed=seed,
        block_size=128,
        tokenizer_dir=None,
        vocab_size=None,
        max_train_tokens=steps * 16 * 128,  # one pass over fresh data, no more tokenizing than needed
    )
    args = TrainArgs(steps=steps, batch_size=16, lr=2e-3, warmup_steps=30, eval_every=120, save_every=0, seed=seed)
    plan, train_data = curriculum_and_data(run, None, 128, seed)
    result = train(run["model"], train_data, run["validation"], args, out, tokenizer=run["tokenizer"], curriculum=plan)
    model, tokenizer = load_for_inference(out)
    options = SamplingOptions(max_new_tokens=48, greedy=True, repetition_penalty=1.3)
    responder = ResponseGenerator(model, tokenizer, options)
    answers = []
    for item in heldout_questions(3):
        answer = responder.reply(responder.new_conversation(), item["question"])
        answers.append(answer)
        console.print(
            Panel(
                f"[bold]Q:[/] {item['question']}\n[bold]model:[/] {answer}\n[dim]reference: {item['answer']}[/]",
                expand=False,
            )
        )
    if model.config.modulation == "coordinate":
        _coordinate_analysis(model, tokenizer, answers[0] or "A heron is a wading bird.", out / "coordinates.png")
    console.print(
        f"best validation loss {result.best_val_loss:.3f}; loss curves: {out / 'loss.png'}; "
        f"checkpoints: {out / 'best'} and {out / 'last'}\n"
        "Next, try:\n"
        f"  .venv/bin/geolm chat {out}\n"
        f'  .venv/bin/geolm generate {out} --prompt "A heron is"\n'
        f"  .venv/bin/geolm verify {out / 'best'}",
        soft_wrap=True,  # commands stay on one line, copyable, however narrow the terminal
    )


def _coordinate_analysis(model, tokenizer, text: str, plot: Path) -> None:
    """Print where the first answer sits in coordinate space and plot its per-token coordinate activity."""
    from geolm.coordinate.analysis import get_coordinate_statistics, plot_coordinate_activity

    stats = get_coordinate_statistics(model, text, tokenizer)
    tokens = tokenizer.convert_ids_to_tokens(stats["token_ids"].tolist())
    plot_coordinate_activity(stats, plot, tokens=tokens)
    uncertainty = stats["uncertainty"]
    console.print(
        Panel(
            f"answer: {text!r}\ncoordinate norm {stats['norm']:.3f}; top-10 active dimensions "
            f"{stats['top_10_dims']}\nper-token uncertainty: min {float(uncertainty.min()):.2e}, "
            f"max {float(uncertainty.max()):.2e}\nactivity plot: {plot}",
            title="coordinate analysis of the first answer",
            expand=False,
        )
    )
