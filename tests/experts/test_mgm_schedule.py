"""The five-stage schedule: each stage trains what it says, leaves a checkpoint, and setup can be skipped."""

import itertools

import pytest
import torch
from safetensors.torch import load_file

from geolm import GeoConfig, GeoForCausalLM
from geolm.data import encode_documents, pack
from geolm.data.corpus import corpus_texts
from geolm.data.tokenizer import train_tokenizer
from geolm.experts.curriculum import STAGES, mgm_curriculum, mgm_sources
from geolm.training import TrainArgs, train


@pytest.fixture(scope="module")
def tokenizer():
    return train_tokenizer(itertools.islice(corpus_texts("train"), 300), 300)


def weights(path):
    return load_file(path / "model.safetensors")


def changed(before: dict, after: dict, keep) -> set[str]:
    return {n for n in after if n in before and keep(n) and not torch.equal(before[n], after[n])}


def test_each_stage_trains_what_it_names_and_setup_can_be_skipped(tmp_path, tokenizer) -> None:
    torch.manual_seed(0)
    special = {k: getattr(tokenizer, k) for k in ("bos_token_id", "eos_token_id", "pad_token_id")}
    config = GeoConfig.from_preset("mgm-tiny", vocab_size=len(tokenizer), **special)
    model = GeoForCausalLM(config)
    start = {n: p.detach().clone() for n, p in model.state_dict().items()}
    text = pack(encode_documents(tokenizer, itertools.islice(corpus_texts("train"), 200)), 32, tokenizer.pad_token_id)
    sources = {"train": text, **mgm_sources(tokenizer, 32, 0)}
    args = TrainArgs(steps=10, batch_size=2, lr=1e-2, warmup_steps=1, eval_every=0, save_every=0, log_every=1)
    train(model, sources, None, args, tmp_path / "run", tokenizer=tokenizer, curriculum=mgm_curriculum())
    stages = [tmp_path / "run" / f"phase-{i}-{name}" for i, name in enumerate(STAGES)]
    assert all((s / "model.safetensors").is_file() for s in stages)
    calibrated = weights(stages[0])
    moved = changed(start, calibrated, lambda n: True)
    assert moved and all(n.endswith("raw_kappa") for n in moved)  # calibration moves curvatures only
    gated = changed(weights(stages[2]), weights(stages[3]), lambda n: True)
    assert gated and all(".mlp.gate." in n for n in gated)  # gate training moves the router only
    assert changed(weights(stages[3]), weights(stages[4]), lambda n: ".mlp.groups." in n)  # joint moves experts
    # --skip-setup: start at the warm-up from the calibration checkpoint
    skipped = train(
        GeoForCausalLM(config),
        sources,
        None,
        args,
        tmp_path / "skip",
        tokenizer=tokenizer,
        curriculum=mgm_curriculum(),
        resume=stages[0],
        start_phase="reasoning_warmup",
    )
    assert min(skipped.losses) == 2 and max(skipped.losses) == 10
