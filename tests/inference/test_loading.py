"""Checkpoint resolution and loading, and the error for each way a checkpoint can be broken."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch
from tiny_checkpoint import write_checkpoint

from geolm.errors import CheckpointError
from geolm.inference import load_for_inference, resolve_checkpoint


def _copy(checkpoint: Path, dest: Path) -> Path:
    return Path(shutil.copytree(checkpoint, dest))


def test_resolve_checkpoint_dir_and_run_dirs(checkpoint: Path, tmp_path: Path) -> None:
    assert resolve_checkpoint(checkpoint) == checkpoint
    run = tmp_path / "run"
    _copy(checkpoint, run / "last")
    assert resolve_checkpoint(run) == run / "last"
    _copy(checkpoint, run / "best")
    assert resolve_checkpoint(str(run)) == run / "best"


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p / "missing", "checkpoint not found"),
        (lambda p: (p / "f.txt").write_text("x") and p / "f.txt", "is a directory, this is a file"),
        (lambda p: p, "neither a checkpoint (no config.json) nor a run directory (no best/ or last/)"),
        (lambda p: (p / "best").mkdir() or p, "best: incomplete checkpoint, config.json is missing"),
    ],
)
def test_resolve_checkpoint_errors(tmp_path: Path, make, message: str) -> None:
    target = make(tmp_path)
    with pytest.raises(CheckpointError) as err:
        resolve_checkpoint(target)
    assert message in str(err.value)
    assert str(tmp_path) in str(err.value)


def test_load_gives_eval_model_and_tokenizer(loaded) -> None:
    model, tokenizer = loaded
    assert not model.training
    assert model.device.type == "cpu" and model.dtype == torch.float32
    assert len(tokenizer) == model.config.vocab_size == 300
    assert tokenizer.convert_ids_to_tokens([0, 1, 2, 3, 7]) == ["<pad>", "<s>", "</s>", "<unk>", "<|end|>"]


def test_load_dtype_option(checkpoint: Path) -> None:
    model, _ = load_for_inference(checkpoint, device="cpu", dtype="bfloat16")
    assert model.dtype == torch.bfloat16


def test_missing_weights(checkpoint: Path, tmp_path: Path) -> None:
    ckpt = _copy(checkpoint, tmp_path / "c")
    (ckpt / "model.safetensors").unlink()
    with pytest.raises(CheckpointError, match=r"no model weights, expected model\.safetensors"):
        load_for_inference(ckpt)
    (ckpt / "pytorch_model.bin").write_bytes(b"not loaded")
    with pytest.raises(CheckpointError, match="only pickle weights"):
        load_for_inference(ckpt)


def test_missing_tokenizer(checkpoint: Path, tmp_path: Path) -> None:
    ckpt = _copy(checkpoint, tmp_path / "c")
    (ckpt / "tokenizer.json").unlink()
    (ckpt / "tokenizer_config.json").unlink()
    with pytest.raises(CheckpointError, match=r"no tokenizer, expected tokenizer\.json") as err:
        load_for_inference(ckpt)
    assert str(ckpt) in str(err.value)


def test_vocab_mismatch(tokenizer, tmp_path: Path) -> None:
    ckpt = write_checkpoint(tmp_path / "small", tokenizer, vocab_size=256)
    with pytest.raises(CheckpointError, match="tokenizer has 300 tokens but the model's vocab_size is 256"):
        load_for_inference(ckpt)


def test_bad_config_names_the_file(checkpoint: Path, tmp_path: Path) -> None:
    ckpt = _copy(checkpoint, tmp_path / "c")
    config = ckpt / "config.json"
    config.write_text(config.read_text().replace('"hidden_size"', '"hiden_size"'))
    with pytest.raises(CheckpointError, match=r"config\.json: unknown config key 'hiden_size'"):
        load_for_inference(ckpt)
