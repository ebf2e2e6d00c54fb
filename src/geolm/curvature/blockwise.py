"""Curvature attention one block of queries at a time: memory linear in the sequence length, on any device.

The reference path builds every (query, key) distance at once and keeps them for the backward pass, so a
training step holds several length x length tensors per layer. Here the scores of a block of queries are
built from the augmented rows q′, k′ (`geolm.curvature.score`), softmaxed and applied to the values, and
only the output and each row's log-sum-exp are kept. The backward recomputes each block's scores from q′, k′
and the log-sum-exp, as flash attention does, so peak memory is O(block x length). A causal block stops at
its last query's key, which halves the work.

The whole computation is one custom operator (`geolm::geodesic_blocks`, with its backward operator), so
`torch.compile` of a model treats it as one opaque call, as it treats SDPA, instead of unrolling its loops.
Inside, each block is one call of `forward_block` or `backward_block`. With `fused=True` the backward's
elementwise work (`score_gradients`, some 30 passes over a block in eager mode) is itself compiled into a few
fused loops, one compiled step for heads of every sign; the forward's is faster eager. A compiled model asks
for it, and so does an eager one whose call holds `FUSE_FROM` scores or more where torch.compile can run
(`fuses`): training steps, not the tiny shapes of tests and decoding. Otherwise heads whose curvatures differ
in sign run as two groups, each with one transcendental function per score. A fully masked row gives zeros,
with zero gradients, and no NaN.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch

from geolm.compiling import compile_problem, compiled
from geolm.curvature.score import distances
from geolm.geometry.stereographic import full_precision, half_chord_distance_slopes, sum_to_shape

BLOCK = 128  # queries per block: the fastest of 32-256 at lengths 512-2048 on 2 CPU cores
# Scores in one call from which an eager model's backward runs its elementwise work compiled: on 2 CPU cores
# a training step of the leaderboard's curvature family (4096 tokens) took 6-23% less time with it at 256 to
# 4096 tokens a row; the tiny calls of tests and decoding would not repay compiling.
FUSE_FROM = 1 << 20


def fuses(q: torch.Tensor, k: torch.Tensor) -> bool:
    """Whether the backward of attention from q′ to k′ runs its elementwise work compiled: always under
    torch.compile, and in an eager model for a call of `FUSE_FROM` scores or more where torch.compile can
    run (the eager step computes the same numbers where it cannot)."""
    if torch.compiler.is_compiling():
        return True
    scores = q.numel() // q.shape[-1] * k.shape[-2]
    return scores >= FUSE_FROM and compile_problem(q.device.type) is None


def blocks(queries: int, keys: int, causal: bool, block: int) -> Iterator[tuple[int, int, int]]:
    """(start, stop, keys seen) of each block of queries; causal queries are the last `queries` positions."""
    for start in range(0, queries, block):
        stop = min(queries, start + block)
        yield start, stop, stop + keys - queries if causal else keys


def mask_(scores: torch.Tensor, hidden: torch.Tensor | None, causal: bool) -> torch.Tensor:
    """`scores` of a block of queries, in place, with −inf where a query may not look: at `hidden`, and for a
    causal block at the keys after its own position (its last `len(queries)` keys are the block's own)."""
    if causal:
        queries = scores.shape[-2]
        after = torch.ones(queries, queries, dtype=torch.bool, device=scores.device).triu_(1)
        scores[..., -queries:].masked_fill_(after, float("-inf"))
    return scores if hidden is None else scores.masked_fill_(hidden, float("-inf"))


def block_probabilities(
    half_chord_sq: torch.Tensor,
    kappa: torch.Tensor,
    weight: torch.Tensor,
    hidden: torch.Tensor | None,
    causal: bool,
    spherical: bool,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """exp(score − peak), the peak and the row sums of a block's ℓ² (elementwise and row-wise work only)."""
    scores = mask_(distances(half_chord_sq, kappa, spherical).mul_(weight), hidden, causal)
    peak = scores.amax(-1, keepdim=True).nan_to_num_(neginf=0.0)  # 0 for a row that sees nothing
    probs = scores.sub_(peak).exp_()
    return probs, peak, probs.sum(-1, keepdim=True)


def score_gradients(
    half_chord_sq: torch.Tensor,
    grad_probs: torch.Tensor,
    kappa: torch.Tensor,
    weight: torch.Tensor,
    lse: torch.Tensor,
    row_dot: torch.Tensor,
    hidden: torch.Tensor | None,
    causal: bool,
    spherical: bool,
    need_kappa: bool,
) -> tuple[torch.Tensor, ...]:
    """The probabilities, ∂L/∂ℓ² and the per-row sums of ∂L/∂w and ∂L/∂κ of a block, from its ℓ² and
    ∂L/∂P = dO·vᵀ, which it overwrites (elementwise and row-wise work only)."""
    d = distances(half_chord_sq, kappa, spherical)
    probs = mask_(d * weight, hidden, causal).sub_(lse).exp_()
    grad_scores = grad_probs.sub_(row_dot).mul_(probs)  # softmax's backward: p·(dP − Σ dO·O)
    grad_weight = (grad_scores * d).sum(-1, keepdim=True)
    grad_d = grad_scores.mul_(weight)
    slope_sq, slope_kappa = half_chord_distance_slopes(half_chord_sq, kappa, d, need_kappa)
    grad_kappa = None if slope_kappa is None else slope_kappa.mul_(grad_d).sum(-1, keepdim=True)
    return probs, grad_d.mul_(slope_sq), grad_weight, grad_kappa


def grouped(x: torch.Tensor) -> torch.Tensor:
    """(B, H_kv, G, N, F) as (B, H_kv, G·N, F), so that one product covers every head sharing the values."""
    return x.flatten(2, 3)


def forward_block(q, k, v, kappa, weight, hidden, causal: bool, spherical: bool):
    """The output and the log-sum-exp (+inf for a row that sees nothing) of one block of queries."""
    probs, peak, total = block_probabilities(q @ k.mT, kappa, weight, hidden, causal, spherical)
    out = (grouped(probs) @ v[:, :, 0]).view(*q.shape[:-1], v.shape[-1]) / total.clamp_min(1)
    return out, torch.where(total > 0, peak + total.log(), torch.inf)


def backward_block(q, k, v, kappa, weight, hidden, causal, spherical, grad_out, row_dot, lse, need_kappa, fused):
    """Gradients of one block of queries: of its q′ rows, of the keys and values it sees, of κ and w."""
    elementwise = compiled(score_gradients) if fused else score_gradients
    grad_probs = (grouped(grad_out) @ v[:, :, 0].mT).view(*q.shape[:-1], k.shape[-2])
    probs, grad_sq, grad_weight, grad_kappa = elementwise(
        q @ k.mT, grad_probs, kappa, weight, lse, row_dot, hidden, causal, spherical, need_kappa
    )
    grad_v = (grouped(probs).mT @ grouped(grad_out)).unsqueeze(2)
    grad_kappa = kappa.new_zeros(kappa.shape) if grad_kappa is None else sum_to_shape(grad_kappa, kappa.shape)
    return grad_sq @ k, grad_sq.mT @ q, grad_v, grad_kappa, sum_to_shape(grad_weight, weight.shape)


def sign_groups(kappa: torch.Tensor, fused: bool = False) -> list[tuple[bool | None, torch.Tensor | None]]:
    """(spherical, heads) for each sign of κ present; heads is None when every head has that sign.

    Compiled steps take every head at once with both forms (spherical None), whatever the signs: a fused loop
    computes both at little cost, one compiled variant serves every step (a κ crossing 0 compiles nothing new)
    and the signs need not be read on the host.
    """
    if fused:
        return [(None, None)]
    signs = (kappa > 0).flatten().tolist()
    if len(set(signs)) == 1:
        return [(signs[0], None)]
    return [
        (sign, torch.tensor([h for h, s in enumerate(signs) if s == sign], device=kappa.device))
        for sign in (False, True)
    ]


def per_head(x: torch.Tensor, heads: torch.Tensor, kv_heads: int, groups: int) -> torch.Tensor:
    """The `heads` (flat query-head indices) of x (B, H_kv, G or 1, …), as (B, len(heads), 1, …)."""
    bsz = x.shape[0]
    return x.expand(bsz, kv_heads, groups, *x.shape[3:]).flatten(1, 2).index_select(1, heads).unsqueeze(2)


def head_parameters(x: torch.Tensor, heads: torch.Tensor) -> torch.Tensor:
    """The `heads` of a per-head parameter (H_kv, G, 1, 1), as (len(heads), 1, 1, 1)."""
    return x.flatten(0, 1).index_select(0, heads).unsqueeze(1)


def part(x: torch.Tensor | None, rows: slice, columns: slice | None = None) -> torch.Tensor | None:
    """Rows (and columns) of x as a contiguous tensor: every block's inputs then share one memory layout, which
    the compiled backward step needs to serve every block without recompiling."""
    if x is None:
        return None
    return (x[..., rows, :] if columns is None else x[..., rows, columns]).contiguous()


def run_forward(q, k, v, kappa, weight, hidden, causal: bool, spherical: bool, block: int):
    """Output and log-sum-exp of every block of one sign group."""
    out = q.new_empty(*q.shape[:-1], v.shape[-1])
    lse = q.new_empty(*q.shape[:-1], 1)
    for start, stop, seen in blocks(q.shape[-2], k.shape[-2], causal, block):
        unseen = None if hidden is None else hidden[..., start:stop, :seen]
        out[..., start:stop, :], lse[..., start:stop, :] = forward_block(
            q[..., start:stop, :], k[..., :seen, :], v[..., :seen, :], kappa, weight, unseen, causal, spherical
        )
    return out, lse


def run_backward(grad_out, q, k, v, kappa, weight, hidden, out, lse, causal, spherical, block, fused, need_kappa):
    """Gradients of q′, k′, v, κ and w of one sign group, block by block."""
    grad_q, grad_k, grad_v = q.new_empty(q.shape), k.new_zeros(k.shape), v.new_zeros(v.shape)
    grad_kappa, grad_weight = kappa.new_zeros(kappa.shape), weight.new_zeros(weight.shape)
    row_dot = (grad_out * out).sum(-1, keepdim=True)  # Σ dO·O per row
    for start, stop, seen in blocks(q.shape[-2], k.shape[-2], causal, block):
        rows, keys = slice(start, stop), slice(0, seen)
        grads = backward_block(
            part(q, rows),
            part(k, keys),
            part(v, keys),
            kappa,
            weight,
            part(hidden, rows, keys),
            causal,
            spherical,
            part(grad_out, rows),
            part(row_dot, rows),
            part(lse, rows),
            need_kappa,
            fused,
        )
        grad_q[..., rows, :] = grads[0]
        grad_k[..., :seen, :] += grads[1]
        grad_v[..., :seen, :] += grads[2]
        grad_kappa += grads[3]
        grad_weight += grads[4]
    return grad_q, grad_k, grad_v, grad_kappa, grad_weight


@torch.library.custom_op("geolm::geodesic_blocks", mutates_args=())
def geodesic_blocks(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    kappa: torch.Tensor,
    weight: torch.Tensor,
    hidden: torch.Tensor | None,
    causal: bool,
    block: int,
    fused: bool,
) -> tuple[torch.Tensor, torch.Tensor]:
    """softmax(w·d_κ(q′k′ᵀ), masked) @ v and each row's log-sum-exp, by blocks of queries.

    q′ (B, H_kv, G, T, E) and k′ (B, H_kv, G, S, E) are augmented rows, v (B, H_kv, 1, S, D) the values
    shared by a key/value head's G query heads, all float32 or wider; κ and w = −1/τ are (H_kv, G, 1, 1).
    `hidden` (B or 1, 1, 1, T, S) marks the keys a query may not see; `causal` lets query i see keys up to
    i + S − T.
    """
    groups = sign_groups(kappa)
    if groups[0][1] is None:
        return run_forward(q, k, v, kappa, weight, hidden, causal, groups[0][0], block)
    bsz, kv_heads, heads_per_kv, queries = q.shape[:4]
    out = q.new_empty(bsz, kv_heads * heads_per_kv, queries, v.shape[-1])
    lse = q.new_empty(bsz, kv_heads * heads_per_kv, queries, 1)
    for spherical, heads in groups:
        picked = (per_head(x, heads, kv_heads, heads_per_kv) for x in (q, k, v))
        params = (head_parameters(x, heads) for x in (kappa, weight))
        part_out, part_lse = run_forward(*picked, *params, hidden, causal, spherical, block)
        out[:, heads], lse[:, heads] = part_out[:, :, 0], part_lse[:, :, 0]
    return out.view(*q.shape[:-1], -1), lse.view(*q.shape[:-1], 1)


@geodesic_blocks.register_fake
def _(q, k, v, kappa, weight, hidden, causal, block, fused):
    return q.new_empty(*q.shape[:-1], v.shape[-1]), q.new_empty(*q.shape[:-1], 1)


@torch.library.custom_op("geolm::geodesic_blocks_backward", mutates_args=())
def geodesic_blocks_backward(
    grad_out: torch.Tensor,
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    kappa: torch.Tensor,
    weight: torch.Tensor,
    hidden: torch.Tensor | None,
    out: torch.Tensor,
    lse: torch.Tensor,
    causal: bool,
    block: int,
    fused: bool,
    need_kappa: bool,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Gradients of `geodesic_blocks` with respect to q′, k′, v, κ and w, recomputing each block."""
    groups = sign_groups(kappa, fused)
    if groups[0][1] is None:
        return run_backward(
            grad_out, q, k, v, kappa, weight, hidden, out, lse, causal, groups[0][0], block, fused, need_kappa
        )
    bsz, kv_heads, heads_per_kv = q.shape[:3]
    grads = [x.new_zeros(x.shape).flatten(1, 2) for x in (q, k)]
    grad_v = torch.zeros(bsz, kv_heads * heads_per_kv, *v.shape[3:], dtype=v.dtype, device=v.device)
    grad_kappa, grad_weight = kappa.new_zeros(kappa.shape).flatten(0, 1), weight.new_zeros(weight.shape).flatten(0, 1)
    for spherical, heads in groups:
        picked = [per_head(x, heads, kv_heads, heads_per_kv) for x in (grad_out, q, k, v)]
        params = [head_parameters(x, heads) for x in (kappa, weight)]
        saved = [per_head(x, heads, kv_heads, heads_per_kv) for x in (out, lse)]
        group = run_backward(*picked, *params, hidden, *saved, causal, spherical, block, fused, need_kappa)
        grads[0][:, heads], grads[1][:, heads] = group[0][:, :, 0], group[1][:, :, 0]
        grad_v[:, heads], grad_kappa[heads], grad_weight[heads] = group[2][:, :, 0], group[3][:, 0], group[4][:, 0]
    grad_v = grad_v.view(bsz, kv_heads, heads_per_kv, *v.shape[3:]).sum(2, keepdim=True)
    return grads[0].view_as(q), grads[1].view_as(k), grad_v, grad_kappa.view_as(kappa), grad_weight.view_as(weight)


@geodesic_blocks_backward.register_fake
def _(grad_out, q, k, v, kappa, weight, hidden, out, lse, causal, block, fused, need_kappa):
    return tuple(x.new_empty(x.shape) for x in (q, k, v, kappa, weight))


def _setup_context(ctx, inputs, output) -> None:
    q, k, v, kappa, weight, hidden, ctx.causal, ctx.block, ctx.fused = inputs
    out, lse = output
    ctx.mark_non_differentiable(lse)
    ctx.save_for_backward(q, k, v, kappa, weight, hidden, out, lse)


def _backward(ctx, grad_out: torch.Tensor, _: torch.Tensor | None):
    q, k, v, kappa, weight, hidden, out, lse = ctx.saved_tensors
    grads = geodesic_blocks_backward(
        grad_out.contiguous(),
        q,
        k,
        v,
        kappa,
        weight,
        hidden,
        out,
        lse,
        ctx.causal,
        ctx.block,
        ctx.fused,
        ctx.needs_input_grad[3],
    )
    return *grads, None, None, None, None


geodesic_blocks.register_autograd(_backward, setup_context=_setup_context)


@full_precision
def blockwise_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    kappa: torch.Tensor,
    weight: torch.Tensor,
    mask: torch.Tensor | None = None,
    causal: bool = False,
    block: int = BLOCK,
) -> torch.Tensor:
    """Curvature attention (B, H_kv, G, T, D) from augmented rows q′, k′ and values v, by blocks of queries.

    Shapes as in `geodesic_blocks`; `mask` (B or 1, 1, 1, T, S) is True where a query may attend. The
    backward's elementwise work runs compiled where `fuses` says so.
    """
    hidden = None if mask is None else ~mask
    q, k, v = q.contiguous(), k.contiguous(), v.contiguous()
    return geodesic_blocks(q, k, v, kappa, weight, hidden, causal, block, fuses(q, k))[0]
