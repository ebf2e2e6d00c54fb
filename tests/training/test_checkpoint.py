import json
import random

import numpy as np
import pytest
import torch
from trainkit import tiny_args, tiny_model, word_tokenizer
from transformers import AutoModelForCausalLM, AutoTokenizer

from geolm.errors import CheckpointError
from geolm.training import train
from geolm.training.checkpoint import capture_rng, recover_interrupted, restore_rng


def saved_step(ckpt):
    return json.loads((ckpt / "trainer_state" / "state.json").read_text())["step"]


def test_rng_states_round_trip_through_a_weights_only_file(tmp_path):
    torch.manual_seed(3)
    path = tmp_path / "rng.pt"
    torch.save(capture_rng(), path)
    expected = (random.random(), float(np.random.rand()), float(torch.rand(1)))
    random.seed(0), np.random.seed(0), torch.manual_seed(0)
    restore_rng(torch.load(path, weights_only=True))
    assert (random.random(), float(np.random.rand()), float(torch.rand(1))) == expected


def test_a_crash_mid_save_leaves_the_previous_checkpoint(tmp_path, blocks, monkeypatch):
    train(tiny_model(), blocks, None, tiny_args(steps=4, stop_after=2), tmp_path)
    before = AutoModelForCausalLM.from_pretrained(tmp_path / "last").state_dict()

    def disk_full(*args, **kwargs):
        raise OSError("No space left on device")

    monkeypatch.setattr(torch, "save", disk_full)
    with pytest.raises(OSError, match="No space left"):
        train(tiny_model(), blocks, None, tiny_args(steps=4), tmp_path, resume="auto")
    monkeypatch.undo()
    assert saved_step(tmp_path / "last") == 2
    after = AutoModelForCausalLM.from_pretrained(tmp_path / "last").state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last", "loss.png", "metrics.jsonl"]  # no temp dir
    result = train(tiny_model(), blocks, None, tiny_args(steps=4), tmp_path, resume="auto")
    assert sorted(result.losses) == [3, 4] and saved_step(tmp_path / "last") == 4


def test_a_death_between_the_renames_is_undone(tmp_path):
    (tmp_path / ".last.prev").mkdir()
    (tmp_path / ".last.prev" / "config.json").write_text("{}")
    (tmp_path / ".last.tmp").mkdir()
    recover_interrupted(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last"]
    assert (tmp_path / "last" / "config.json").is_file()


def test_tokenizer_is_saved_and_a_different_one_is_refused(tmp_path, blocks):
    tokenizer = word_tokenizer()
    train(tiny_model(), blocks, None, tiny_args(steps=2, stop_after=1), tmp_path, tokenizer=tokenizer)
    loaded = AutoTokenizer.from_pretrained(tmp_path / "last")
    assert loaded.get_vocab() == tokenizer.get_vocab()
    with pytest.raises(CheckpointError, match="tokenizer does not match"):
        other = word_tokenizer(offset=1000)  # same size, other words
        train(tiny_model(), blocks, None, tiny_args(steps=2), tmp_path, tokenizer=other, resume="auto")
    with pytest.raises(CheckpointError, match="vocab_size 512 does not match the model's 256"):
        train(tiny_model(vocab_size=256), blocks, None, tiny_args(steps=2), tmp_path, resume="auto")
    result = train(tiny_model(), blocks, None, tiny_args(steps=2), tmp_path, tokenizer=tokenizer, resume="auto")
    assert sorted(result.losses) == [2]


def test_resume_from_a_path_without_a_checkpoint_is_refused(tmp_path, blocks):
    with pytest.raises(CheckpointError, match=r"cannot resume from .*empty"):
        train(tiny_model(), blocks, None, tiny_args(steps=2), tmp_path / "run", resume=tmp_path / "empty")


def test_a_fresh_start_does_not_overwrite_an_existing_run(tmp_path, blocks):
    train(tiny_model(), blocks, None, tiny_args(steps=1), tmp_path)
    with pytest.raises(
        CheckpointError,
        match=r"already holds checkpoint\(s\) last; resume it with --resume auto \(resume='auto' in Python\)",
    ):
        train(tiny_model(), blocks, None, tiny_args(steps=2), tmp_path)
    assert saved_step(tmp_path / "last") == 1
