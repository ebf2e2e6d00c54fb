"""`geolm demo` (`make demo`): train a small model on the embedded corpus, then ask it held-out questions."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.panel import Panel

console = Console()


def demo(
    out: Path = typer.Option(Path("runs/demo"), help="run directory"),
    steps: int = typer.Option(600, help="optimizer steps (the default fits about 5 minutes on 2 CPU cores)"),
    preset: str = typer.Option("llama-demo", help="model preset"),
    seed: int = typer.Option(0, help="seed of everything"),
) -> None:
    """Train `preset` on the embedded WordNet corpus, answer three held-out questions, say what to try next."""
    from geolm.cli.train import prepare_run
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
    args = TrainArgs(
        steps=steps, batch_size=16, lr=2e-3, warmup_steps=30, eval_every=100, save_every=0, seed=seed
    )
    result = train(run["model"], run["train"], run["validation"], args, out, tokenizer=run["tokenizer"])
    model, tokenizer = load_for_inference(out)
    responder = ResponseGenerator(model, tokenizer, SamplingOptions(max_new_tokens=48, greedy=True))
    for item in heldout_questions(3):
        answer = responder.reply(responder.new_conversation(), item["question"])
        console.print(
            Panel(
                f"[bold]Q:[/] {item['question']}\n[bold]model:[/] {answer}\n[dim]reference: {item['answer']}[/]",
                expand=False,
            )
        )
    console.print(
        f"best validation loss {result.best_val_loss:.3f}; loss curves: {out / 'loss.png'}; "
        f"checkpoints: {out / 'best'} and {out / 'last'}\n"
        "Next, try:\n"
        f"  .venv/bin/geolm chat {out}\n"
        f'  .venv/bin/geolm generate {out} --prompt "A heron is"\n'
        f"  .venv/bin/geolm verify {out / 'best'}"
    )
