"""Find and load a checkpoint for generation, with one clear error for each way a checkpoint can be wrong."""

from __future__ import annotations

from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, PreTrainedModel, PreTrainedTokenizerBase

from geolm.devices import default_device
from geolm.errors import CheckpointError, GeoError, InputError

WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json")
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json")
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def resolve_checkpoint(path: str | Path) -> Path:
    """The checkpoint directory `path` names: itself if it holds config.json, else a run's best/ or last/."""
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"checkpoint not found: {path}")
    if not path.is_dir():
        raise CheckpointError(f"{path}: a checkpoint is a directory, this is a file")
    if (path / "config.json").is_file():
        return path
    for name in ("best", "last"):
        candidate = path / name
        if candidate.is_dir():
            if not (candidate / "config.json").is_file():
                raise CheckpointError(f"{candidate}: incomplete checkpoint, config.json is missing")
            return candidate
    raise CheckpointError(f"{path}: neither a checkpoint (no config.json) nor a run directory (no best/ or last/)")


def beside_checkpoint(checkpoint: str | Path, prefix: str) -> Path:
    """The default output directory of an analysis: PREFIX-NAME next to the checkpoint NAME that `checkpoint`
    resolves to (so a run's analyses stay in the run directory, not in the current one)."""
    resolved = resolve_checkpoint(checkpoint).resolve()
    return resolved.parent / f"{prefix}-{resolved.name}"


def resolve_dtype(dtype: torch.dtype | str | None, device: torch.device) -> torch.dtype:
    """bfloat16 on a GPU that supports it and float32 elsewhere, unless `dtype` says otherwise."""
    if isinstance(dtype, torch.dtype):
        return dtype
    if dtype is None:
        gpu_bf16 = device.type == "cuda" and torch.cuda.is_bf16_supported()
        return torch.bfloat16 if gpu_bf16 else torch.float32
    if dtype not in DTYPES:
        raise InputError(f"unknown dtype {dtype!r}; allowed: {', '.join(DTYPES)}")
    return DTYPES[dtype]


def checked_checkpoint(path: str | Path) -> Path:
    """The checkpoint directory of `path` (a checkpoint, or a run directory), refused unless it holds
    safetensors weights and a tokenizer."""
    ckpt = resolve_checkpoint(path)
    if not any((ckpt / name).is_file() for name in WEIGHT_FILES):
        found = " (only pickle weights, which geolm never loads)" if (ckpt / "pytorch_model.bin").exists() else ""
        raise CheckpointError(f"{ckpt}: no model weights, expected {' or '.join(WEIGHT_FILES)}{found}")
    if not any((ckpt / name).is_file() for name in TOKENIZER_FILES):
        raise CheckpointError(f"{ckpt}: no tokenizer, expected {' or '.join(TOKENIZER_FILES)}")
    return ckpt


def load_for_inference(
    path: str | Path, device: torch.device | str | None = None, dtype: torch.dtype | str | None = None
) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """Model (eval mode, on `device`) and tokenizer of a checkpoint or run directory.

    Only safetensors weights are read. A tokenizer with more tokens than the model's vocabulary is refused
    here, because it would otherwise surface as an index error in the middle of generation.
    """
    ckpt = checked_checkpoint(path)
    device = torch.device(device) if device is not None else default_device()
    try:
        tokenizer = AutoTokenizer.from_pretrained(ckpt)
    except (OSError, ValueError, KeyError) as err:
        raise CheckpointError(f"{ckpt}: cannot load the tokenizer: {_first_line(err)}") from None
    try:
        model = AutoModelForCausalLM.from_pretrained(ckpt, dtype=resolve_dtype(dtype, device), use_safetensors=True)
    except GeoError as err:
        raise CheckpointError(f"{ckpt / 'config.json'}: {err}") from None
    except (OSError, ValueError, KeyError, RuntimeError) as err:
        raise CheckpointError(f"{ckpt}: cannot load the model: {_first_line(err)}") from None
    vocab = model.config.vocab_size
    if len(tokenizer) > vocab:
        raise CheckpointError(
            f"{ckpt}: the tokenizer has {len(tokenizer)} tokens but the model's vocab_size is {vocab}"
        )
    return model.to(device).eval(), tokenizer


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__
