"""Load a local Hugging Face model directory (safetensors only, never the hub) or wrap a model in memory."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from transformers import (
    AutoConfig,
    AutoModel,
    AutoModelForCausalLM,
    AutoModelForSeq2SeqLM,
    AutoTokenizer,
    PreTrainedModel,
)

import geolm  # noqa: F401  (registers geolm configs and models with the Auto classes)
from geolm.errors import CheckpointError

_CAUSAL_SUFFIXES = ("ForCausalLM", "LMHeadModel")


@dataclass
class LoadedModel:
    """A model in eval mode, its tokenizer (or None, with the reason) and what it is."""

    model: PreTrainedModel
    tokenizer: Any | None
    source: str
    kind: str
    tokenizer_note: str

    @property
    def config(self) -> Any:
        return self.model.config


def model_kind(model: PreTrainedModel) -> str:
    """ "encoder-decoder", "decoder" (causal LM) or "encoder"."""
    if getattr(model.config, "is_encoder_decoder", False):
        return "encoder-decoder"
    name = type(model).__name__
    if name.endswith(_CAUSAL_SUFFIXES) or getattr(model, "causal", False):
        return "decoder"
    inner = getattr(model, "model", None)
    return "decoder" if getattr(inner, "causal", False) else "encoder"


def check_model_dir(path: str | Path) -> Path:
    """The directory as a Path, or a `CheckpointError` naming what is missing."""
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"model directory not found: {path}")
    if not path.is_dir():
        raise CheckpointError(f"{path}: not a directory (expected a Hugging Face model directory)")
    if not (path / "config.json").is_file():
        raise CheckpointError(f"{path}: no config.json (not a Hugging Face model directory)")
    if not any(path.glob("*.safetensors")):
        raise CheckpointError(f"{path}: no *.safetensors weights (pickled weight files are never loaded)")
    return path


def _auto_class(config: Any) -> Any:
    if getattr(config, "is_encoder_decoder", False):
        return AutoModelForSeq2SeqLM
    if any(arch.endswith(_CAUSAL_SUFFIXES) for arch in getattr(config, "architectures", None) or []):
        return AutoModelForCausalLM
    return AutoModel


def load_tokenizer(path: Path) -> tuple[Any | None, str]:
    """The directory's tokenizer, or None and why (weight batteries run without one)."""
    try:
        return AutoTokenizer.from_pretrained(path, local_files_only=True), "loaded"
    except (OSError, ValueError, TypeError, KeyError) as err:
        return None, f"no tokenizer ({type(err).__name__})"


def load_model(path: str | Path) -> LoadedModel:
    """Load config, weights (float32, eval mode) and tokenizer from a local directory."""
    path = check_model_dir(path)
    try:
        config = AutoConfig.from_pretrained(path, local_files_only=True)
        model = _auto_class(config).from_pretrained(
            path, config=config, local_files_only=True, use_safetensors=True, dtype=torch.float32
        )
    except (OSError, ValueError, KeyError) as err:
        raise CheckpointError(f"{path}: cannot load model ({err})") from None
    model.eval()
    tokenizer, note = load_tokenizer(path)
    return LoadedModel(model=model, tokenizer=tokenizer, source=str(path), kind=model_kind(model), tokenizer_note=note)


def wrap_model(model: PreTrainedModel, tokenizer: Any | None = None) -> LoadedModel:
    """A model already in memory, put in eval mode."""
    model.eval()
    note = "given" if tokenizer is not None else "no tokenizer (none given)"
    return LoadedModel(
        model=model,
        tokenizer=tokenizer,
        source=type(model).__name__,
        kind=model_kind(model),
        tokenizer_note=note,
    )


def resolve(model_or_path: str | Path | PreTrainedModel | LoadedModel, tokenizer: Any | None = None) -> LoadedModel:
    """Accept a directory, a model object or an already loaded model; a given tokenizer overrides."""
    if isinstance(model_or_path, LoadedModel):
        loaded = model_or_path
    elif isinstance(model_or_path, PreTrainedModel):
        loaded = wrap_model(model_or_path, tokenizer)
    else:
        loaded = load_model(model_or_path)
    if tokenizer is not None:
        loaded.tokenizer, loaded.tokenizer_note = tokenizer, "given"
    return loaded
