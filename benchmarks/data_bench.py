"""Token shards against their peers: tokenization throughput against HF tokenizers' own batch encoding of the
same texts, and training tokens/s reading blocks from shards against the same blocks in memory."""

from __future__ import annotations

import itertools
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

import torch

DOCUMENTS = 40_000  # of the embedded corpus's train split
VOCAB = 8192
WORKERS = 2
REPEATS = 3
STEPS, BATCH, BLOCK = 40, 8, 256
PRESET = "llama-tiny"


def _tokenization(texts: list[str], tokenizer, root: Path) -> dict:
    """Seconds of geolm's tokenization into shards (encoding, layout and writing, in WORKERS processes) and of
    HF tokenizers' `encode_batch` (its own threads) on the same texts, interleaved."""
    from geolm.data.tokenize import tokenize_corpus

    tokenizer_dir = root / "tokenizer"
    tokenizer.save_pretrained(tokenizer_dir)

    def records(split: str):
        return enumerate(texts if split == "train" else [])

    samples: dict[str, list[float]] = {"geolm shards": [], "HF encode_batch": []}
    tokens = 0
    for repeat in range(REPEATS):
        out = root / f"shards-{repeat}"
        start = time.perf_counter()
        index = tokenize_corpus(
            records, tokenizer, tokenizer_dir, out, settings={}, sources=["bench"], workers=WORKERS, progress=False
        )
        samples["geolm shards"].append(time.perf_counter() - start)
        tokens = sum(shard["tokens"] for shard in index["splits"]["train"])
        os.environ["TOKENIZERS_PARALLELISM"] = "true"  # the peer uses its own threads; set after the fork above
        start = time.perf_counter()
        tokenizer.backend_tokenizer.encode_batch(texts, add_special_tokens=False)
        samples["HF encode_batch"].append(time.perf_counter() - start)
        os.environ["TOKENIZERS_PARALLELISM"] = "false"
    seconds = {name: statistics.median(values) for name, values in samples.items()}
    return {"documents": len(texts), "tokens": tokens, "seconds": seconds}


def _training(root: Path, tokenizer) -> dict:
    """Median training tokens/s of the same run reading the same blocks from shards and from memory."""
    from geolm.config import GeoConfig
    from geolm.data.blocks import TokenBlocks
    from geolm.data.shards import ShardBlocks
    from geolm.modeling import GeoForCausalLM
    from geolm.training import TrainArgs, train

    shards = ShardBlocks(root / "shards-0", "train", BLOCK, tokenizer.pad_token_id)
    ids, labels = shards.rows(torch.arange(len(shards)))
    sources = {"shards": shards, "memory": TokenBlocks(ids, labels)}
    samples: dict[str, list[float]] = {name: [] for name in sources}
    config = GeoConfig.from_preset(PRESET, vocab_size=len(tokenizer))
    for repeat, name in itertools.product(range(REPEATS), sources):
        torch.manual_seed(0)
        model = GeoForCausalLM(config)
        args = TrainArgs(steps=STEPS, batch_size=BATCH, eval_every=0, save_every=0, log_every=1, warmup_steps=1)
        out = root / f"run-{name}-{repeat}"
        train(model, sources[name], None, args, out)
        rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
        rates = [row["tokens_per_s"] for row in rows if "tokens_per_s" in row][2:]  # past the first steps
        samples[name].append(statistics.median(rates))
    return {"preset": PRESET, "steps": STEPS, "tokens_per_s": {k: statistics.median(v) for k, v in samples.items()}}


def run() -> dict:
    from geolm.data.corpus import corpus_texts
    from geolm.data.tokenizer import train_tokenizer

    texts = list(itertools.islice(corpus_texts("train"), DOCUMENTS))
    tokenizer = train_tokenizer(texts, VOCAB)
    with tempfile.TemporaryDirectory() as tmp:
        return {"tokenize": _tokenization(texts, tokenizer, Path(tmp)), "train": _training(Path(tmp), tokenizer)}


def _verdict(ratio: float, goal: float) -> str:
    return f"{ratio:.2f}x, met" if ratio >= goal else f"{ratio:.2f}x, not met"


def markdown(result: dict) -> str:
    tokenize, training = result["tokenize"], result["train"]
    ours, peer = tokenize["seconds"]["geolm shards"], tokenize["seconds"]["HF encode_batch"]
    rates = training["tokens_per_s"]
    return "\n".join(
        [
            f"Tokenization: {tokenize['documents']:,} documents of the embedded corpus ({tokenize['tokens']:,} tokens,",
            f"a BPE of {VOCAB} entries), median of {REPEATS} interleaved runs. geolm writes shards with {WORKERS}",
            "worker processes (encoding, the document layout, loss bits and files); the peer is HF tokenizers'",
            "own `encode_batch` on its threads, encoding only.",
            "",
            "| | seconds | tokens/s | / HF |",
            "|---|---:|---:|---:|",
            f"| HF tokenizers encode_batch | {peer:.2f} | {tokenize['tokens'] / peer:,.0f} | 1.00 |",
            f"| geolm data tokenize | {ours:.2f} | {tokenize['tokens'] / ours:,.0f} | {peer / ours:.2f} |",
            "",
            f"Training {training['preset']} for {training['steps']} steps of {BATCH} x {BLOCK} tokens on the same",
            "blocks, read from shards by memory map or held in memory; median tokens/s of each run's steps (past",
            "the first two), median of the runs.",
            "",
            "| blocks | tokens/s | / in memory |",
            "|---|---:|---:|",
            f"| in memory (TokenBlocks) | {rates['memory']:,.0f} | 1.00 |",
            f"| shards (ShardBlocks) | {rates['shards']:,.0f} | {rates['shards'] / rates['memory']:.3f} |",
            "",
            f"Goals: tokenization at least 0.8x HF's ({_verdict(peer / ours, 0.8)}), training from shards at least",
            f"0.97x in memory ({_verdict(rates['shards'] / rates['memory'], 0.97)}).",
        ]
    )
