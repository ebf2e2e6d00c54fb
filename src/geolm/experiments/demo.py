"""The demo's recipe (`geolm demo`, `make demo` and the demo benchmark): a small model trained on the embedded
corpus, then asked held-out questions beside its untrained twin."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

console = Console(stderr=True)


# The demo's preset by device: what two CPU cores (or an Apple GPU) train in minutes, and a larger one on CUDA.
PRESETS = {"cpu": "geometric-llama-demo", "mps": "geometric-llama-demo", "cuda": "geometric-llama-10m"}


def demo_preset() -> str:
    """The preset the demo trains on the device training would use."""
    from geolm.devices import default_device

    return PRESETS[default_device().type]


def train_demo_model(run_dir: Path, preset: str, steps: int, seed: int, minutes: float | None = None) -> tuple:
    """The demo's recipe: a fresh tokenizer, `steps` steps (or as many as `minutes` allow) of 16 x 128 tokens at
    lr 2e-3, the model's default curriculum; returns the best checkpoint's model and tokenizer and its
    validation loss."""
    from geolm import api

    spec = api.RunSpec(
        preset=preset,
        out=run_dir,
        block_size=128,
        # one pass over fresh data, no more tokenizing than needed; a time budget may take all the corpus
        max_train_tokens=None if minutes else steps * 16 * 128,
        args=api.TrainArgs(
            steps=steps,
            batch_size=16,
            lr=2e-3,
            warmup_steps=30,
            eval_every=120,
            save_every=0,
            seed=seed,
            minutes=minutes,
        ),
    )
    result = api.train(spec)
    model, tokenizer = api.load(run_dir)
    return model, tokenizer, result.best_val_loss


def answer_with_untrained(model, tokenizer, questions: int, seed: int) -> tuple[list, list]:
    """Answers to the first `questions` held-out questions from `model` and from its untrained twin
    (the same config initialised with `seed`), which shows what training added."""
    import torch

    from geolm.experiments.questions import answer_questions
    from geolm.modeling import GeoForCausalLM

    with console.status(f"answering {questions} held-out questions"):
        answers = answer_questions(model, tokenizer, questions)
    torch.manual_seed(seed)
    untrained = GeoForCausalLM(model.config).eval()
    with console.status("asking the same questions of the untrained model"):
        baseline = answer_questions(untrained, tokenizer, questions)
    return answers, baseline
