"""The slots memory as it was first written, kept as the oracle of the segment-blocked one: every write and
every read is one masked attention over the whole chunk (quadratic in its length, obviously right)."""

from __future__ import annotations

import torch

from geolm.experts.memory import WorkingMemory
from geolm.nn.context import ForwardContext


def reference_memory(layer: WorkingMemory, x: torch.Tensor, ctx: ForwardContext) -> tuple[torch.Tensor, torch.Tensor]:
    """The memory's output (B, T, hidden) and the slots after the chunk, from the state `ctx` carries."""
    bsz, seq, _ = x.shape
    length, slots = layer.options.segment_length, layer.options.slots
    tokens = layer.token_proj(x)
    positions = ctx.position_ids.expand(bsz, seq)
    real = ctx.token_mask if ctx.token_mask is not None else torch.ones_like(positions, dtype=torch.bool)
    state = layer.incoming(ctx, x)
    seg = positions // length
    rel = (seg - state.segment[:, None]).clamp(0)
    steps = (seq + length - 2) // length + 1
    memories, memory = [], state.memory
    for step in range(steps):
        memories.append(memory)
        in_step = real & (rel == step)
        every_slot = torch.ones_like(memory[..., 0], dtype=torch.bool)
        visible = torch.cat([every_slot, state.filled & (step == 0), in_step], 1)
        done = (in_step & (positions % length == length - 1)).any(-1)
        memory = layer.write(memory, torch.cat([layer.slot_norm(memory), state.buffer, tokens], 1), visible, done)
    block = torch.arange(len(memories) * slots) // slots
    sees_slots = block[None, None, :] == rel[..., None].clamp(max=len(memories) - 1)
    sees_buffer = state.filled[:, None, :] & (rel == 0)[..., None]
    causal = torch.ones(seq, seq, dtype=torch.bool).tril()
    sees_tokens = causal[None] & (seg[:, :, None] == seg[:, None, :]) & real[:, None, :]
    context = torch.cat([layer.slot_norm(torch.cat(memories, 1)), state.buffer, tokens], 1)
    allowed = torch.cat([sees_slots, sees_buffer, sees_tokens], -1)
    read, _ = layer.attend(layer.q_proj(x), context, allowed)
    return torch.nn.functional.linear(read, layer.o_weight), memory
