"""Checkpoints: directories written atomically, loadable by HF, and complete enough to resume exactly.

Layout of RUN_DIR/last/ and RUN_DIR/best/ (see docs/training.md):

    config.json, model.safetensors, generation_config.json   save_pretrained
    tokenizer files                                            tokenizer.save_pretrained, when given
    trainer_state/state.json       step, data position, best val loss, phase, vocab fingerprint, lr
    trainer_state/run_config.json  resolved train args, model config and curriculum
    trainer_state/optimizer.pt     AdamW state keyed by parameter name (gathered from every process under FSDP)
    trainer_state/scaler.pt        fp16 grad scaler, when used
    trainer_state/rng_<rank>.pt    python, numpy, torch (and CUDA or MPS) RNG states of each process

A checkpoint is assembled in a hidden temp dir beside its final place, then swapped in by renames, so a
process that dies mid-save leaves the previous checkpoint whole. Torch files hold only tensors and Python
scalars and are read back with `weights_only=True`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import torch
from accelerate import Accelerator
from safetensors.torch import load_file
from torch import nn
from torch.distributed.checkpoint.state_dict import StateDictOptions, get_optimizer_state_dict, set_optimizer_state_dict
from transformers.utils import logging as hf_logging

from geolm.errors import CheckpointError

LAST, BEST, STATE_DIR = "last", "best", "trainer_state"
GATHERED = StateDictOptions(full_state_dict=True, cpu_offload=True)  # whole tensors on the CPU of the main process
RESTORED = StateDictOptions(full_state_dict=True, strict=False)  # parameters frozen so far have no moments yet
PHASE_PREFIX = "phase-"  # RUN_DIR/phase-<i>-<name>: the checkpoint a phase with `checkpoint: true` leaves

logger = logging.getLogger(__name__)


def resume_checkpoint(resume: str | Path | None, run_dir: Path) -> Path | None:
    """Where to resume from: "auto" is RUN_DIR/last if it exists; a run dir as a path means its last/."""
    if resume is None:
        return None
    if resume == "auto":
        return run_dir / LAST if (run_dir / LAST / "config.json").is_file() else None
    path = Path(resume)
    for candidate in (path, path / LAST):
        if (candidate / "config.json").is_file():
            return candidate
    raise CheckpointError(f"cannot resume from {path}: no config.json there and no last/ checkpoint inside")


def saved_step(ckpt: Path) -> int | None:
    """The optimizer step a checkpoint was saved at, or None where there is no whole checkpoint."""
    state_file = ckpt / STATE_DIR / "state.json"
    if not ((ckpt / "config.json").is_file() and state_file.is_file()):
        return None
    return int(json.loads(state_file.read_text(encoding="utf-8"))["step"])


def recover_interrupted(run_dir: Path) -> None:
    """Undo what a save cut short between its two renames, and drop half-written temp dirs."""
    leftovers = [*run_dir.glob(".*.prev"), *run_dir.glob(".*.tmp")]  # .NAME.prev and .NAME.tmp
    for name in sorted({p.name[1:].rsplit(".", 1)[0] for p in leftovers}):
        final, prev, tmp = run_dir / name, run_dir / f".{name}.prev", run_dir / f".{name}.tmp"
        if prev.is_dir() and not final.exists():
            prev.rename(final)
        shutil.rmtree(prev, ignore_errors=True)
        shutil.rmtree(tmp, ignore_errors=True)


def vocab_fingerprint(tokenizer: Any) -> dict[str, Any] | None:
    """Vocabulary size and a hash of the token -> id map, to refuse resuming with another tokenizer."""
    if tokenizer is None:
        return None
    fingerprint: dict[str, Any] = {}
    if hasattr(tokenizer, "__len__"):
        fingerprint["size"] = len(tokenizer)
    if hasattr(tokenizer, "get_vocab"):
        items = sorted(tokenizer.get_vocab().items())
        fingerprint["sha256"] = hashlib.sha256(json.dumps(items).encode()).hexdigest()
    return fingerprint


def capture_rng() -> dict[str, Any]:
    """Every RNG state of this process, as tensors and plain Python values (safe for weights_only loads)."""
    version, internal, gauss = random.getstate()
    name, keys, pos, has_gauss, cached = np.random.get_state()
    states: dict[str, Any] = {
        "python": [version, list(internal), gauss],
        "numpy": [name, keys.tolist(), int(pos), int(has_gauss), float(cached)],
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        states["cuda"] = torch.cuda.get_rng_state_all()
    if torch.backends.mps.is_available():
        states["mps"] = torch.mps.get_rng_state()
    return states


def restore_rng(states: dict[str, Any]) -> None:
    version, internal, gauss = states["python"]
    random.setstate((version, tuple(internal), gauss))
    name, keys, pos, has_gauss, cached = states["numpy"]
    np.random.set_state((name, np.asarray(keys, dtype=np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(states["torch"])
    if "cuda" in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])
    if "mps" in states and torch.backends.mps.is_available():
        torch.mps.set_rng_state(states["mps"])


def save_checkpoint(
    ckpt: Path,
    *,
    accelerator: Accelerator,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    tokenizer: Any,
    state: dict[str, Any],
    run_config: dict[str, Any],
) -> None:
    """Write a full checkpoint to `ckpt` atomically; every process must call this (it synchronises)."""
    tmp = ckpt.with_name(f".{ckpt.name}.tmp")
    main = accelerator.is_main_process
    if main:
        shutil.rmtree(tmp, ignore_errors=True)
        (tmp / STATE_DIR).mkdir(parents=True)
    accelerator.wait_for_everyone()
    raw_model = accelerator.unwrap_model(model)
    model_state = without_aliases(accelerator.get_state_dict(model), raw_model)  # a collective under FSDP
    optimizer_state = get_optimizer_state_dict(model, optimizer, options=GATHERED)  # a collective under FSDP
    try:
        torch.save(capture_rng(), tmp / STATE_DIR / f"rng_{accelerator.process_index}.pt")
        if main:
            torch.save(optimizer_state, tmp / STATE_DIR / "optimizer.pt")
            with quiet_hf_progress():
                raw_model.save_pretrained(tmp, state_dict=model_state)
            if tokenizer is not None:
                tokenizer.save_pretrained(tmp)
            if accelerator.scaler is not None:
                torch.save(accelerator.scaler.state_dict(), tmp / STATE_DIR / "scaler.pt")
            _write_json(tmp / STATE_DIR / "state.json", state)
            _write_json(tmp / STATE_DIR / "run_config.json", run_config)
        accelerator.wait_for_everyone()
        if main:
            _swap_in(tmp, ckpt)
    except BaseException:
        if main:
            shutil.rmtree(tmp, ignore_errors=True)
        raise
    accelerator.wait_for_everyone()


def read_checkpoint(ckpt: Path, model: nn.Module, tokenizer: Any) -> dict[str, Any]:
    """Check the checkpoint against the model and tokenizer, load its weights, return its trainer state.

    Call before `accelerator.prepare`, on the bare model; `restore_training_state` does the rest after.
    """
    state_file = ckpt / STATE_DIR / "state.json"
    for needed in (ckpt / "config.json", state_file):
        if not needed.is_file():
            raise CheckpointError(f"{ckpt}: incomplete checkpoint, missing {needed.relative_to(ckpt)}")
    state = json.loads(state_file.read_text(encoding="utf-8"))
    saved_vocab = json.loads((ckpt / "config.json").read_text(encoding="utf-8")).get("vocab_size")
    model_vocab = getattr(model.config, "vocab_size", None)
    if saved_vocab != model_vocab:
        raise CheckpointError(f"{ckpt}: checkpoint vocab_size {saved_vocab} does not match the model's {model_vocab}")
    if tokenizer is not None:
        given = vocab_fingerprint(tokenizer)
        if state.get("vocab") is None:
            raise CheckpointError(f"{ckpt}: saved without a tokenizer, so the given tokenizer cannot be checked")
        if state["vocab"] != given:
            raise CheckpointError(
                f"{ckpt}: tokenizer does not match the checkpoint's (saved {state['vocab']}, given {given})"
            )
    load_weights(model, ckpt)
    return state


def restore_training_state(
    ckpt: Path, accelerator: Accelerator, model: nn.Module, optimizer: torch.optim.Optimizer
) -> None:
    """Optimizer, grad scaler and this process's RNG states; call after `accelerator.prepare`, last.

    The optimizer state is keyed by parameter name and whole, so it resumes under any number of processes,
    sharded or not: every process reads it and keeps its own part."""
    state_dir = ckpt / STATE_DIR
    optimizer_file = state_dir / "optimizer.pt"
    if not optimizer_file.is_file():
        raise CheckpointError(f"{ckpt}: incomplete checkpoint, missing {optimizer_file.relative_to(ckpt)}")
    try:
        load_optimizer_state(accelerator.unwrap_model(model), model, optimizer, optimizer_file)
    except (ValueError, KeyError, RuntimeError) as err:
        raise CheckpointError(f"{optimizer_file}: does not fit this optimizer ({err})") from None
    if accelerator.scaler is not None and (state_dir / "scaler.pt").is_file():
        accelerator.scaler.load_state_dict(torch.load(state_dir / "scaler.pt", weights_only=True))
    rng_file = state_dir / f"rng_{accelerator.process_index}.pt"
    if rng_file.is_file():
        restore_rng(torch.load(rng_file, weights_only=True))
    else:
        logger.warning("%s missing (different number of processes?): RNG states start from the seed", rng_file)


def load_optimizer_state(
    raw_model: nn.Module, model: nn.Module, optimizer: torch.optim.Optimizer, optimizer_file: Path
) -> None:
    """Load a name-keyed optimizer state into the (possibly sharded) optimizer.

    torch first gives every trainable parameter moments by a zero step; those the file does not hold (for
    parameters frozen so far) are dropped again, so their first real update is Adam's first, as without a resume.
    """
    saved = torch.load(optimizer_file, weights_only=True)
    set_optimizer_state_dict(model, optimizer, saved, options=RESTORED)
    for name, param in raw_model.named_parameters():
        if name not in saved["state"]:
            optimizer.state.pop(param, None)


def load_weights(model: nn.Module, ckpt: Path) -> None:
    """Load safetensors weights (single file or sharded) into `model`; tied tensors may be absent."""
    index = ckpt / "model.safetensors.index.json"
    if index.is_file():
        files = sorted(set(json.loads(index.read_text(encoding="utf-8"))["weight_map"].values()))
    else:
        files = ["model.safetensors"]
    weights: dict[str, torch.Tensor] = {}
    for name in files:
        if not (ckpt / name).is_file():
            raise CheckpointError(f"{ckpt}: incomplete checkpoint, missing {name}")
        weights.update(load_file(ckpt / name))
    try:
        missing, unexpected = model.load_state_dict(weights, strict=False)
    except RuntimeError as err:
        raise CheckpointError(f"{ckpt}: weights do not fit the model ({str(err).splitlines()[-1].strip()})") from None
    current = model.state_dict()
    loaded_ptrs = {current[k].data_ptr() for k in weights if k in current}
    untied = [k for k in missing if current[k].data_ptr() not in loaded_ptrs]
    if untied or unexpected:
        raise CheckpointError(f"{ckpt}: weights do not fit the model (missing {untied}, unexpected {unexpected})")


@contextmanager
def quiet_hf_progress() -> Iterator[None]:
    """Hide transformers' per-shard tqdm bar while saving, so it does not tear the run's progress bar."""
    was_enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was_enabled:
            hf_logging.enable_progress_bar()


def without_aliases(state: dict[str, torch.Tensor], model: nn.Module) -> dict[str, torch.Tensor]:
    """Drop the second name of a tied parameter: a state gathered under FSDP holds separate copies, which
    `save_pretrained` (looking for shared storage) would not recognise as one weight."""
    seen: set[int] = set()
    aliases = set()
    for name, param in model.named_parameters(remove_duplicate=False):
        if id(param) in seen:
            aliases.add(name)
        seen.add(id(param))
    return {name: tensor for name, tensor in state.items() if name not in aliases}


def _write_json(path: Path, data: dict[str, Any]) -> None:
    path.write_text(json.dumps(data, indent=2, default=str), encoding="utf-8")


def _swap_in(tmp: Path, final: Path) -> None:
    """Replace `final` by `tmp` with renames; the old copy is kept aside until the new one is in place."""
    prev = final.with_name(f".{final.name}.prev")
    shutil.rmtree(prev, ignore_errors=True)
    if final.exists():
        final.rename(prev)
    tmp.rename(final)
    shutil.rmtree(prev, ignore_errors=True)
