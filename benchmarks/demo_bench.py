"""What `make demo` shows: held-out questions answered by the demo's model and by its untrained twin.

The demo's own recipe (`geolm.experiments.demo.train_demo_model`) with its default steps, scored on 50 held-out
questions instead of the demo's 20; the time is the demo's whole run (tokenizer, data, training, answers).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

QUESTIONS, STEPS, PRESET, SEED = 50, 360, "geometric-llama-demo", 0


def run() -> dict:
    from geolm.experiments.demo import answer_with_untrained, train_demo_model
    from geolm.experiments.questions import score

    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        model, tokenizer, best_val_loss = train_demo_model(Path(tmp) / "demo", PRESET, STEPS, SEED)
        answers, baseline = answer_with_untrained(model, tokenizer, QUESTIONS, SEED)
    return {
        "preset": PRESET,
        "steps": STEPS,
        "best_val_loss": best_val_loss,
        "trained": score(answers),
        "untrained": score(baseline),
        "seconds": time.perf_counter() - start,
        "examples": [{"question": a.question, "answer": a.answer} for a in answers[:5]],
    }


def markdown(result: dict) -> str:
    """The section of docs/benchmarks.md for these numbers."""
    trained, untrained = result["trained"], result["untrained"]
    rows = [
        f"| names the asked word | {trained['names_word']:.0%} | {untrained['names_word']:.0%} |",
        f"| names a WordNet category word | {trained['names_category']:.0%} | {untrained['names_category']:.0%} |",
    ]
    examples = "\n".join(f"- {e['question']} -> {e['answer']}" for e in result["examples"])
    return (
        f"`{result['preset']}`, {result['steps']} steps (the demo's recipe), best validation loss "
        f"{result['best_val_loss']:.3f}; {trained['questions']} held-out questions, greedy answers "
        f"(repetition penalty 1.3). Whole run: {result['seconds']:.0f} s.\n\n"
        "| answers that | trained | untrained |\n|---|---:|---:|\n"
        + "\n".join(rows)
        + "\n\nFirst answers:\n\n"
        + examples
    )
