"""The `slots` memory part: a working memory of M slots that tokens read by attention, written once per segment.

The sequence is cut into segments of `segment_length` tokens by position. A token reads by one attention over
[the memory as it stood when its segment began; the earlier tokens of its own segment]: memory and tokens
compete in one softmax, the seed's "memory-attention fusion". When a segment's last token has been seen the
slots write: each slot asks (one attention of the slots over [slots; that segment's tokens]) and takes the
answer through a learnt gate, m' = m + g ⊙ (a − m), g = σ(W_g [m; a] + b). Nothing is sampled, and what a
segment writes is readable only from the next segment on (the recurrent memory of RMT and Transformer-XL),
so no token sees its own future.

In a forward the segments run in order (a loop over segments, never over tokens) and the gradient flows
through the writes. The chunk's tokens are laid out by segment and place (`segment_grid`: a token at
position p goes to segment p // L, place p mod L), so every write attends over its own segment and every
read over its own segment and slots: time and memory linear in the length, where one masked attention over
the whole chunk would be quadratic (tests/experts/memory_reference.py keeps that form as the oracle).

With a cache, the memory, the open segment's tokens and its index are part state: cached decoding computes
what the full forward does, beams reorder the slots with the keys and values. The state summarises the past
without per-token history of the slots, so `crop` refuses to rewind it. One token per row (decoding) takes
`step`, the same computation in about half the operations (tested against the oracle token by token).

The slots live in a width of their own (`slot_size`), projected from and to the hidden size; the output
projection starts at zero, so a fresh memory adds nothing until it learns to.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from geolm.config import GeoConfig
from geolm.errors import ConfigError
from geolm.nn.context import ForwardContext
from geolm.nn.layers import RMSNorm
from geolm.nn.options import PartOptions, option, positive_int
from geolm.nn.registry import MEMORY

STATE = "slots"
READ_SHARE = "memory_read_share"


def _size(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


@dataclass(frozen=True)
class SlotMemoryOptions(PartOptions):
    """`slots` slots of width `slot_size` (0: the hidden size), read with `heads` heads; one write per
    `segment_length` tokens."""

    kind = "memory"

    slots: int = option(16, positive_int, "a positive integer")
    slot_size: int = option(0, _size, "0 (the hidden size) or a positive integer")
    heads: int = option(4, positive_int, "a positive integer")
    segment_length: int = option(64, positive_int, "a positive integer")

    def check_together(self, where: str) -> None:
        if self.slot_size and self.slot_size % self.heads:
            raise ConfigError(f"{where}: slot_size {self.slot_size} does not split into {self.heads} heads")


@MEMORY.register("slots")
class WorkingMemory(nn.Module):
    """One layer's slots, their read (tokens → [slots; segment]) and their write (slots → [slots; segment])."""

    options_class = SlotMemoryOptions

    def __init__(self, config: GeoConfig, layer_idx: int) -> None:
        super().__init__()
        self.layer_idx = layer_idx
        self.options = options = SlotMemoryOptions.from_config(config)
        width = options.slot_size or config.hidden_size
        if width % options.heads:
            raise ConfigError(f"part_options['memory']: slot width {width} does not split into {options.heads} heads")
        self.width = width
        self.initial_slots = nn.Parameter(torch.randn(options.slots, width))
        self.slot_norm = RMSNorm(width, config.rms_norm_eps)
        self.token_proj = nn.Linear(config.hidden_size, width, bias=False)
        self.q_proj = nn.Linear(config.hidden_size, width, bias=False)
        self.k_proj = nn.Linear(width, width, bias=False)
        self.v_proj = nn.Linear(width, width, bias=False)
        self.write_q_proj = nn.Linear(width, width, bias=False)
        self.write_gate = nn.Linear(2 * width, width)
        self.o_weight = nn.Parameter(torch.zeros(config.hidden_size, width))  # zero: no effect until trained

    @torch.no_grad()
    def reset_parameters(self) -> None:
        """This module's own tensors as built (random slots, a zero output); the layers inside reset their own."""
        self.initial_slots.copy_(torch.randn(self.initial_slots.shape))
        self.o_weight.zero_()

    def heads(self, x: torch.Tensor) -> torch.Tensor:
        """(B, N, width) → (B, heads, N, width / heads)."""
        bsz, length, _ = x.shape
        return x.view(bsz, length, self.options.heads, -1).transpose(1, 2)

    def attend(self, queries: torch.Tensor, keys_in: torch.Tensor, allowed: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Attention of `queries` (B, Q, width) over `keys_in` (B, K, width) where `allowed` (B, Q, K) is True;
        returns the output (B, Q, width) and the weights (B, heads, Q, K)."""
        q, k, v = self.heads(queries), self.heads(self.k_proj(keys_in)), self.heads(self.v_proj(keys_in))
        scores = torch.einsum("bhqd,bhkd->bhqk", q.float(), k.float()) / q.shape[-1] ** 0.5
        weights = scores.masked_fill(~allowed[:, None], float("-inf")).softmax(-1)
        out = torch.einsum("bhqk,bhkd->bhqd", weights.to(v.dtype), v)
        return out.transpose(1, 2).reshape(queries.shape[0], queries.shape[1], -1), weights

    def write(
        self, memory: torch.Tensor, context: torch.Tensor, visible: torch.Tensor, done: torch.Tensor
    ) -> torch.Tensor:
        """The slots after writing the segment whose tokens are `visible` (B, K) in `context` = [slots; ...],
        for the rows where it is `done` (B,); the other rows keep their slots."""
        queries = self.write_q_proj(self.slot_norm(memory))
        answer, _ = self.attend(queries, context, visible[:, None].expand(-1, memory.shape[1], -1))
        gate = torch.sigmoid(self.write_gate(torch.cat([memory, answer], -1)))
        return torch.where(done[:, None, None], memory + gate * (answer - memory), memory)

    def forward(self, x: torch.Tensor, ctx: ForwardContext) -> torch.Tensor:
        bsz, seq, _ = x.shape
        if seq == 1:
            return self.step(x, ctx)
        length = self.options.segment_length
        tokens = self.token_proj(x)  # (B, T, width): what the segment offers the slots and the readers
        positions = ctx.position_ids.expand(bsz, seq)
        real = ctx.token_mask if ctx.token_mask is not None else torch.ones_like(positions, dtype=torch.bool)
        state = self.incoming(ctx, x)
        steps = (seq + length - 2) // length + 1  # most segments one chunk can touch
        rel = (positions // length - state.segment[:, None]).clamp(0, steps - 1)  # 0: the segment open at the start
        cell = torch.where(real, rel * length + positions % length, steps * length)  # its place; the rest: a sink
        grid = segment_grid(tokens, real, cell, steps, state)
        # The slots each segment of the chunk reads, in order, and what each write leaves behind.
        memories, memory = [], state.memory
        every_slot = torch.ones_like(memory[..., 0], dtype=torch.bool)
        for step in range(steps):
            memories.append(memory)
            if self.skips_write(grid.closes[:, step]):
                continue
            context = torch.cat([self.slot_norm(memory), grid.tokens[:, step]], 1)
            visible = torch.cat([every_slot, grid.present[:, step]], 1)
            memory = self.write(memory, context, visible, grid.closes[:, step])
        read = self.read(x, cell, memories, grid, ctx)
        if ctx.cache is not None and not ctx.closed:
            completed = grid.closes.sum(1)
            current = state.segment + completed
            kept = completed == 0  # the open segment's earlier tokens stay buffered only if it is still open
            after = SlotState(memory, state.buffer * kept[:, None, None], state.filled & kept[:, None], current)
            after.add_tokens(tokens, real & (rel == completed[:, None]), positions % length)
            ctx.cache.set_state(STATE, self.layer_idx, vars(after), rewindable=False)
        return F.linear(read, self.o_weight)

    def step(self, x: torch.Tensor, ctx: ForwardContext) -> torch.Tensor:
        """`forward` for one token per row (decoding), in a fraction of its operations: the token joins the open
        segment's buffer, reads the slots that segment began with and the buffer up to its own place, and
        closes the segment when it takes its last place."""
        bsz = x.shape[0]
        tokens, state = self.token_proj(x), self.incoming(ctx, x)
        place = ctx.position_ids.expand(bsz, 1) % self.options.segment_length  # (B, 1)
        real = ctx.token_mask if ctx.token_mask is not None else torch.ones_like(place, dtype=torch.bool)
        places = torch.arange(self.options.segment_length, device=x.device)
        at = (places == place) & real  # (B, L): the token's place in the buffer (none for padding)
        buffer = torch.where(at[..., None], tokens, state.buffer.to(tokens.dtype))
        filled = state.filled | at
        keys = torch.cat([self.slot_norm(state.memory), buffer], 1)  # (B, M + L, width)
        every_slot = filled.new_ones(bsz, self.options.slots)
        earlier = filled & (places <= place)
        out, weights = self.attend(self.q_proj(x), keys, torch.cat([every_slot, earlier], 1)[:, None])
        if ctx.collect_stats:
            ctx.add_stat(READ_SHARE, weights[..., : self.options.slots].sum(-1).mean(1))
        closes, memory = filled[:, -1], state.memory
        if not self.skips_write(closes):
            memory = self.write(memory, keys, torch.cat([every_slot, filled], 1), closes)
        if ctx.cache is not None and not ctx.closed:
            kept = ~closes
            after = SlotState(memory, buffer * kept[:, None, None], filled & kept[:, None], state.segment + closes)
            ctx.cache.set_state(STATE, self.layer_idx, vars(after), rewindable=False)
        return F.linear(out, self.o_weight)

    @staticmethod
    def skips_write(closes: torch.Tensor) -> bool:
        """Whether a write can be skipped because no row's segment `closes` (B,): only when inference runs
        eagerly on the CPU (decoding, where 63 of 64 tokens close nothing), since reading the flag is free there;
        a write that changes no row leaves the slots as they were, so the numbers are the same."""
        eager_inference = not torch.is_grad_enabled() and not torch.compiler.is_compiling()
        return eager_inference and closes.device.type == "cpu" and not bool(closes.any())

    def read(
        self, x: torch.Tensor, cell: torch.Tensor, memories: list[torch.Tensor], grid: SegmentGrid, ctx: ForwardContext
    ) -> torch.Tensor:
        """Each token's attention over the slots its segment began with and the segment's tokens at its own and
        earlier places (the buffered ones included): by segment, or by token for a chunk shorter than one
        segment (decoding), where a segment's empty places would only be wasted queries."""
        bsz, steps, length = grid.present.shape
        slots = self.slot_norm(torch.stack(memories, 1))  # (B, S, M, width)
        place = torch.arange(length, device=x.device)
        index = cell.clamp(max=steps * length - 1)  # a padding token reads some cell: its output is never used
        by_token = x.shape[1] < length
        if by_token:
            step, row = index // length, torch.arange(bsz, device=x.device)[:, None]
            keys = torch.cat([slots[row, step], grid.tokens[row, step]], 2)  # (B, T, M + L, width)
            earlier = place <= (index % length)[..., None]
            sees_tokens = (grid.present[row, step] & earlier).unsqueeze(2)  # (B, T, 1, L)
            queries = self.q_proj(x).unsqueeze(2)  # (B, T, 1, width)
        else:
            keys = torch.cat([slots, grid.tokens], 2)  # (B, S, M + L, width)
            sees_tokens = grid.present[:, :, None, :] & (place[:, None] >= place[None, :])  # (B, S, L, L)
            queries = self.q_proj(x)
            queries = scatter_cells(queries, cell, queries.new_zeros(bsz, steps * length, queries.shape[-1]))
            queries = queries.view(bsz, steps, length, -1)
        sees_slots = sees_tokens.new_ones(*sees_tokens.shape[:-1], self.options.slots)
        allowed = torch.cat([sees_slots, sees_tokens], -1)
        out, weights = self.attend(queries.flatten(0, 1), keys.flatten(0, 1), allowed.flatten(0, 1))
        out = out.reshape(bsz, -1, out.shape[-1])
        if not by_token:  # back from the cells to the tokens
            out = out.gather(1, index[..., None].expand(-1, -1, out.shape[-1]))
        if ctx.collect_stats:
            share = weights[..., : self.options.slots].sum(-1).mean(1).reshape(bsz, -1)
            ctx.add_stat(READ_SHARE, share if by_token else share.gather(1, index))
        return out

    def incoming(self, ctx: ForwardContext, x: torch.Tensor) -> SlotState:
        """The state the cache holds, or a fresh one: the initial slots and an empty segment 0."""
        cached = ctx.cache.state(STATE, self.layer_idx) if ctx.cache is not None else None
        if cached is not None:
            return SlotState(**cached.tensors)
        bsz, length = x.shape[0], self.options.segment_length
        return SlotState(
            memory=self.initial_slots.to(x.dtype)[None].expand(bsz, -1, -1),
            buffer=x.new_zeros(bsz, length, self.width),
            filled=torch.zeros(bsz, length, dtype=torch.bool, device=x.device),
            segment=torch.zeros(bsz, dtype=torch.long, device=x.device),
        )


@dataclass
class SlotState:
    """One layer's memory between chunks: the slots (B, M, width), the open segment's tokens at their place in
    it (B, L, width) with `filled` (B, L) marking which are there, and the open segment's index (B,)."""

    memory: torch.Tensor
    buffer: torch.Tensor
    filled: torch.Tensor
    segment: torch.Tensor

    def add_tokens(self, tokens: torch.Tensor, take: torch.Tensor, places: torch.Tensor) -> None:
        """Put the tokens marked in `take` (B, T) into the buffer at `places` (B, T), their places in the segment."""
        where = torch.where(take, places, self.buffer.shape[1])  # the other tokens go to the sink
        self.buffer = scatter_cells(tokens, where, self.buffer.to(tokens.dtype))  # autocast's projections: bf16
        self.filled = scatter_cells(take, where, self.filled)


@dataclass
class SegmentGrid:
    """A chunk's tokens by segment and place (B, S, L, width): `present` (B, S, L) where a token is (the open
    segment's buffered ones included, in segment 0), `closes` (B, S) where the segment's last place is."""

    tokens: torch.Tensor
    present: torch.Tensor

    @property
    def closes(self) -> torch.Tensor:
        return self.present[..., -1]


def scatter_cells(values: torch.Tensor, cell: torch.Tensor, into: torch.Tensor) -> torch.Tensor:
    """`into` (B, cells, …) with `values` (B, T, …) put at their `cell` (B, T); a cell past the last is a sink
    for the tokens that have no place."""
    index = cell.view(*cell.shape, *[1] * (values.dim() - 2)).expand_as(values)
    return torch.cat([into, into[:, :1]], 1).scatter(1, index, values)[:, : into.shape[1]]


def segment_grid(tokens: torch.Tensor, real: torch.Tensor, cell: torch.Tensor, steps: int, state: SlotState):
    """The chunk's real tokens at their cells, over the open segment's buffered tokens in segment 0 (the
    buffer holds that segment's earlier places, the chunk its later ones)."""
    bsz, _, width = tokens.shape
    length = state.buffer.shape[1]
    later = (steps - 1) * length  # the cells of the segments after the open one: empty before the chunk's
    grid = scatter_cells(
        tokens, cell, torch.cat([state.buffer.to(tokens.dtype), tokens.new_zeros(bsz, later, width)], 1)
    )
    present = scatter_cells(real, cell, torch.cat([state.filled, state.filled.new_zeros(bsz, later)], 1))
    return SegmentGrid(grid.view(bsz, steps, length, width), present.view(bsz, steps, length))
