"""The coordinate context as a causal exponential moving average, computed without a loop over tokens.

ctx[t] = d * ctx[t-1] + (1 - d) * x[t], with ctx[-1] = `initial`. Written out,
ctx[t] = d^(t+1) * initial + (1 - d) * sum_{s<=t} d^(t-s) * x[s]: a lower-triangular decay matrix applied
to x. Only non-negative powers of d appear (dividing by d^t, the cumulative-sum trick, overflows within a
few hundred tokens), and the matrix is applied in chunks: inside each chunk of C tokens a (C x C) matmul,
then the chunk ends are carried across chunks by a second, (n x n) decay matrix with step d^C. The cost is
O(T * C * D) instead of O(T^2 * D) for the full matrix.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

CHUNK = 64


def decay_matrix(length: int, decay: float, device: torch.device) -> torch.Tensor:
    """(length x length) float32 matrix with d^(t-s) at s <= t and 0 above the diagonal."""
    steps = torch.arange(length, device=device, dtype=torch.float32)
    gaps = steps[:, None] - steps[None, :]
    powers = torch.pow(torch.tensor(decay, dtype=torch.float32, device=device), gaps.clamp(min=0))
    return torch.where(gaps >= 0, powers, torch.zeros((), device=device))


def powers(base: float, count: int, device: torch.device) -> torch.Tensor:
    """base^1, ..., base^count in float32."""
    exponents = torch.arange(1, count + 1, device=device, dtype=torch.float32)
    return torch.pow(torch.tensor(base, dtype=torch.float32, device=device), exponents)


def causal_ema(x: torch.Tensor, decay: float, initial: torch.Tensor | None = None) -> torch.Tensor:
    """EMA of `x` (B, T, D) over T, starting from `initial` (B, D) (zeros if None); float32 output."""
    x = x.float()
    bsz, length, dim = x.shape
    initial = x.new_zeros(bsz, dim) if initial is None else initial.float()
    if length == 1:  # the decoding step: one update, no matrices
        return (decay * initial + (1.0 - decay) * x[:, 0]).unsqueeze(1)
    chunk = min(CHUNK, length)
    chunks = -(-length // chunk)
    padded = F.pad(x, (0, 0, 0, chunks * chunk - length)).view(bsz, chunks, chunk, dim)
    local = torch.matmul((1.0 - decay) * decay_matrix(chunk, decay, x.device), padded)  # each chunk from 0
    ends = decay_matrix(chunks, decay**chunk, x.device) @ local[:, :, -1]  # context at each chunk's end
    ends = ends + powers(decay**chunk, chunks, x.device)[None, :, None] * initial[:, None]
    before = torch.cat((initial[:, None], ends[:, :-1]), dim=1)  # context entering each chunk
    out = local + powers(decay, chunk, x.device)[None, None, :, None] * before[:, :, None]
    return out.reshape(bsz, chunks * chunk, dim)[:, :length]
