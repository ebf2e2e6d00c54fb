"""llama-10m, geometric-llama-10m and curvature-small trained for the same steps on the embedded corpus,
then scored by `geolm eval` (lm-evaluation-harness) on the four WordNet tasks."""

from __future__ import annotations

import itertools
import tempfile
import time
from pathlib import Path

import torch

from geolm import GeoConfig, GeoForCausalLM
from geolm.data import encode_documents, pack
from geolm.data.corpus import corpus_texts
from geolm.data.tokenizer import train_tokenizer
from geolm.experiments.harness import evaluate, headline
from geolm.experiments.wordnet_tasks import HEADLINE_METRICS
from geolm.training import TrainArgs, train

PRESETS = ("llama-10m", "geometric-llama-10m", "curvature-small")
STEPS, BATCH, BLOCK, LR, VOCAB, DOCUMENTS, LIMIT = 300, 16, 128, 2e-3, 4096, 40_000, 300


def run() -> dict:
    tokenizer = train_tokenizer(itertools.islice(corpus_texts("train"), 200_000), VOCAB)
    blocks = pack(
        encode_documents(tokenizer, list(itertools.islice(corpus_texts("train"), DOCUMENTS))),
        BLOCK,
        tokenizer.pad_token_id,
    )
    special = {k: getattr(tokenizer, k) for k in ("pad_token_id", "bos_token_id", "eos_token_id")}
    rows = {}
    with tempfile.TemporaryDirectory() as scratch:
        for preset in PRESETS:
            torch.manual_seed(0)
            model = GeoForCausalLM(GeoConfig.from_preset(preset, vocab_size=len(tokenizer), **special))
            began = time.time()
            train(model, blocks, None, TrainArgs.short_run(STEPS, BATCH, LR), Path(scratch) / preset)
            trained_s = time.time() - began
            scores = evaluate(model.eval(), tokenizer, ["geolm_wordnet"], Path(scratch) / f"{preset}-eval", limit=LIMIT)
            rows[preset] = {
                "parameters": sum(p.numel() for p in model.parameters()),
                "train_s": trained_s,
                "results": scores["results"],
                "items": {task: n["effective"] for task, n in scores["n-samples"].items()},
            }
    return {
        "rows": rows,
        "recipe": f"{STEPS} steps of {BATCH} x {BLOCK} tokens, AdamW {LR}, one seed, baseline curriculum",
    }


def markdown(result: dict) -> str:
    lines = [
        f"Each model: {result['recipe']}, on the embedded corpus's training documents; scored on at most "
        f"{LIMIT} held-out items per task (`geolm eval --limit {LIMIT}`). Accuracy ± lm-eval's standard error; "
        "chance is 0.25 for hypernym and definition, 0.5 for agreement.",
        "",
        "| model | parameters | " + " | ".join(HEADLINE_METRICS) + " |",
        "|---|---:|" + "---:|" * len(HEADLINE_METRICS),
    ]
    for preset, row in result["rows"].items():
        cells = [f"{value:.3f} ± {stderr:.3f}" for value, stderr in headline(row).values()]
        lines.append(f"| {preset} | {row['parameters']:,} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
