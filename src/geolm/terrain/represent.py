"""Turning tokens and words into vectors: embedding rows, pooled rows, and hidden states of every stack."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from geolm.terrain.loading import LoadedModel


def cosine_matrix(x: np.ndarray) -> np.ndarray:
    """Cosine similarities between the rows of `x` (zero rows give zero similarity)."""
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    unit = x / np.where(norms > 0, norms, 1.0)
    return unit @ unit.T


def upper_pairs(matrix: np.ndarray) -> np.ndarray:
    """The strictly upper-triangular entries of a square matrix (each unordered pair once)."""
    return matrix[np.triu_indices(matrix.shape[0], k=1)]


def pooled_rows(weight: np.ndarray, id_lists: Sequence[Sequence[int]]) -> np.ndarray:
    """One vector per id list: the row itself for one token, the mean of the rows for several."""
    return np.stack([weight[list(ids)].mean(axis=0) for ids in id_lists]).astype(np.float64)


def decoder_inputs(loaded: LoadedModel, input_ids: torch.Tensor) -> torch.Tensor:
    """Decoder inputs of an encoder-decoder: the encoder tokens shifted right behind the start token."""
    config = loaded.config
    start = config.decoder_start_token_id
    if start is None:
        start = config.pad_token_id or 0
    prefix = torch.full_like(input_ids[:, :1], start)
    return torch.cat([prefix, input_ids[:, :-1]], dim=1)


@torch.no_grad()
def hidden_states(
    loaded: LoadedModel, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None
) -> dict[str, tuple[torch.Tensor, ...]]:
    """Hidden states per stack ("encoder" and/or "decoder"); index 0 is the embedding output."""
    model = loaded.model
    device = next(model.parameters()).device
    input_ids = input_ids.to(device)
    mask = attention_mask.to(device) if attention_mask is not None else torch.ones_like(input_ids)
    if loaded.kind == "encoder-decoder":
        out = model(
            input_ids=input_ids,
            attention_mask=mask,
            decoder_input_ids=decoder_inputs(loaded, input_ids),
            output_hidden_states=True,
            use_cache=False,
        )
        return {"encoder": out.encoder_hidden_states, "decoder": out.decoder_hidden_states}
    kwargs = {"use_cache": False} if loaded.kind == "decoder" else {}
    out = model(input_ids=input_ids, attention_mask=mask, output_hidden_states=True, **kwargs)
    return {"decoder" if loaded.kind == "decoder" else "encoder": out.hidden_states}


@torch.no_grad()
def contextual_vectors(loaded: LoadedModel, texts: Sequence[str], batch_size: int = 256) -> np.ndarray:
    """Final-layer hidden state of each text run alone, mean-pooled over its non-special tokens.

    Texts are batched in order of length so little compute goes to padding; for an encoder-decoder the
    encoder's last layer is used (the text is the encoder's input).
    """
    tokenizer = loaded.tokenizer
    if tokenizer.pad_token is None:
        batch_size = 1  # nothing to pad with: run texts one at a time rather than alter the tokenizer
    stack = "decoder" if loaded.kind == "decoder" else "encoder"
    order = np.argsort([len(ids) for ids in tokenizer(list(texts))["input_ids"]], kind="stable")
    out = np.zeros((len(texts), loaded.config.hidden_size))
    for start in range(0, len(texts), batch_size):
        chunk = order[start : start + batch_size]
        batch = tokenizer([texts[i] for i in chunk], padding=True, return_tensors="pt", return_special_tokens_mask=True)
        keep = batch["attention_mask"].bool() & ~batch["special_tokens_mask"].bool()
        last = hidden_states(loaded, batch["input_ids"], batch["attention_mask"])[stack][-1].float().cpu()
        weights = keep.float().unsqueeze(-1)
        out[chunk] = ((last * weights).sum(1) / weights.sum(1).clamp(min=1)).double().numpy()
    return out
