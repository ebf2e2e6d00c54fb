"""The `geometric_moe` FFN part: a router picks `top_k` of E geometric experts per token, and only those run.

Routing follows Mixtral's conventions: router logits in float32, softmax over all experts, the top-k kept and
renormalised to sum to 1. Two auxiliary losses go through the forward context, on by default:
`router_balance` = E·Σᵢ fᵢ·Pᵢ (Switch Transformer; fᵢ the share of the token-expert assignments that went to
expert i, Pᵢ its mean router probability, both over real tokens; 1 when balanced) and `router_z` = mean over
real tokens of logsumexp(logits)² (ST-MoE), which keeps the logits from drifting. Statistics: `expert_load`
(each token's share of assignments per expert, (B, T, E)) and `router_entropy` (B, T).

Dispatch is sparse: the (token, expert) assignments are sorted by expert, and each geometry's experts run in
one computation (`ExpertGroup.run`), every expert on its own tokens: through torch's grouped matmul on the
sorted rows where it runs, otherwise padded to the group's busiest expert; a geometry nobody chose is never
run. The one host synchronisation is reading how many tokens each expert got, to cut the sorted rows into
geometries; with a capacity factor every expert gets its capacity of rows instead, and nothing waits for the
device.
"""

from __future__ import annotations

import math
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from geolm.config import GeoConfig
from geolm.errors import ConfigError
from geolm.experts.experts import EXPERT_GROUPS, Grouped, raw_for
from geolm.experts.options import GeometricMoEOptions
from geolm.nn.context import ForwardContext
from geolm.nn.registry import FFN

BALANCE, Z_LOSS, LOAD, ENTROPY, DROPPED = (
    "router_balance",
    "router_z",
    "expert_load",
    "router_entropy",
    "router_dropped",
)


def combine(
    x: torch.Tensor, outputs: torch.Tensor, weights: torch.Tensor, order: torch.Tensor, tokens: torch.Tensor
) -> torch.Tensor:
    """Σ over each token's assignments of weight · expert output: `outputs` are the sorted assignments' (in
    `order` of the flat (N·k) weights), added back to their `tokens` of x's shape."""
    weighted = outputs * weights.reshape(-1)[order, None].to(x.dtype)
    return torch.zeros_like(x).index_add_(0, tokens, weighted)


@FFN.register("geometric_moe")
class GeometricMoE(nn.Module):
    """Router (`gate`, HF's name) over the experts of every geometry group (`groups`, in config order)."""

    options_class = GeometricMoEOptions
    aux_loss_weights: ClassVar[dict[str, float]] = {BALANCE: 0.01, Z_LOSS: 0.001}

    def __init__(self, config: GeoConfig, layer_idx: int, modulation: nn.Module) -> None:
        super().__init__()
        self.options = options = GeometricMoEOptions.from_config(config)
        inner = options.expert_size or config.intermediate_size
        self.gate = nn.Linear(config.hidden_size, options.num_experts, bias=False)
        if options.nuanced_routing:  # one direction per geometry group, zero at start: plain routing at step 0
            self.curvature_gate = nn.Parameter(torch.zeros(len(options.geometries), config.hidden_size))
        shape = (config.hidden_size, inner, options.kappa_init, options.tangent_radius)
        gated = {"gated": True} if options.expert_form == "gated" else {}
        self.groups = nn.ModuleList(
            EXPERT_GROUPS[geometry](count, *shape, **gated)
            for geometry, count in zip(options.geometries, options.group_sizes, strict=True)
        )
        # expert number e (counted over all groups) is expert e - first[g] of group g = group_of_expert[e]
        self.group_of_expert = [g for g, count in enumerate(options.group_sizes) for _ in range(count)]
        self.first_expert = [sum(options.group_sizes[:g]) for g in range(len(options.group_sizes))]
        for group in self.groups:  # one token runs top_k of the E experts: their expected share of the weights
            group.active_share = options.top_k / options.num_experts
        self.register_buffer("selection_bias", torch.zeros(options.num_experts))
        self.register_buffer("pending_load", torch.zeros(options.num_experts))

    @torch.no_grad()
    def rebalance(self, rate: float) -> None:
        """Auxiliary-loss-free balancing (DeepSeek-V3): each expert's selection bias moves by ±`rate` against
        its load in the previous training forward, overloaded experts down, underloaded up.

        The bias changes which experts are chosen, never their weights. It is applied at the start of the next
        training forward, not at the end of this one, so activation checkpointing recomputes this forward
        with the bias it used. Under DDP the buffers are broadcast from rank 0 at each forward, so all ranks
        share rank 0's bias, updated from rank 0's load.
        """
        self.selection_bias += rate * torch.sign(self.pending_load.mean() - self.pending_load)  # 0 before any load
        self.pending_load.zero_()

    @torch.no_grad()
    def upcycle(self, gate_proj: torch.Tensor, up_proj: torch.Tensor, down_proj: torch.Tensor) -> None:
        """Sparse upcycling: every expert becomes the dense SwiGLU feed-forward down(silu(gate x) ⊙ up x) it
        replaces, and the router starts at zero. The router's probabilities are then uniform, each token's
        top-k weights are 1/k each, and the mixture computes the dense output (up to the experts' curvature,
        which starts at `kappa_init`). This part's own tensors are made here, on the weights' device.

        The experts read u = x/√D and return √D times their output, so the copies are scaled to match.
        """
        inner = self.groups[0].up.shape[1]
        if self.options.expert_form != "gated" or tuple(up_proj.shape) != (inner, self.groups[0].hidden):
            raise ConfigError(
                f"upcycling a feed-forward of shape {tuple(up_proj.shape)} needs gated experts of that shape; "
                f"this mixture has expert_form {self.options.expert_form!r} and width {inner}"
            )
        self.to_empty(device=up_proj.device)
        scale = math.sqrt(self.groups[0].hidden)
        for tensor in self.parameters():
            tensor.zero_()  # the router, the biases and nuanced routing's directions start at zero
        for buffer in self.buffers():
            buffer.zero_()
        for group in self.groups:
            group.up.copy_(gate_proj.float() * scale)  # broadcast to every expert of the group
            group.value.copy_(up_proj.float() * scale)
            group.down.copy_(down_proj.float() / scale)
            if group.raw_kappa is not None:
                group.raw_kappa.fill_(raw_for(self.options.kappa_init))

    def expert(self, expert: int, x: torch.Tensor, fused: bool = False) -> torch.Tensor:
        """Run expert number `expert` (counted over all groups) on tokens x (n, D)."""
        group = self.group_of_expert[expert]
        return self.groups[group](expert - self.first_expert[group], x, fused)

    def route(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Router logits (N, E) in float32, chosen experts (N, K) and their renormalised weights (N, K).

        With nuanced routing the gate sees each expert's current curvature: logitₑ = wₑ·x + κₑ·(u_g·x), u_g a
        learnt direction of expert e's geometry group g, so tokens on one side of u_g prefer that group's more
        curved experts and tokens on the other its flatter ones (and routing pulls on κ too).
        """
        logits = F.linear(x.float(), self.gate.weight.float())
        if self.options.nuanced_routing:
            kappa = torch.cat([group.kappa() for group in self.groups]).float()  # (E,)
            per_group = F.linear(x.float(), self.curvature_gate.float())  # (N, G)
            logits = logits + per_group[:, self.group_of_expert] * kappa  # each expert's group's direction
        probs = logits.softmax(-1)
        chosen = (probs + self.selection_bias).topk(self.options.top_k, dim=-1).indices
        weights = probs.gather(-1, chosen)
        return logits, chosen, weights / weights.sum(-1, keepdim=True)

    def forward(self, x: torch.Tensor, ctx: ForwardContext) -> torch.Tensor:
        bsz, seq, hidden = x.shape
        flat = x.reshape(-1, hidden)
        options = ctx.current(self.options)
        learning_balance = self.training and options.balance_bias_rate > 0 and not ctx.closed
        if learning_balance:
            self.rebalance(options.balance_bias_rate)
        logits, chosen, weights = self.route(flat)
        real = (  # (N, 1) float32, 1 at real tokens
            ctx.token_mask.reshape(-1, 1).float()
            if ctx.token_mask is not None
            else torch.ones(len(flat), 1, device=x.device)
        )
        if learning_balance:  # assignments of real tokens only
            weight = real.expand_as(chosen).reshape(-1)
            self.pending_load.index_add_(0, chosen.reshape(-1), weight.to(self.pending_load.dtype))  # no host sync
        implementation = options.experts_implementation
        fused = implementation == "compiled" or (implementation == "auto" and torch.compiler.is_compiling())
        out, dropped = self.dispatch(flat, chosen, weights, options.capacity_factor, fused)
        self.report(logits, chosen, real, ctx, (bsz, seq))
        ctx.add_stat(DROPPED, dropped.view(bsz, seq))
        ctx.add_router_logits(logits)
        return out.view(bsz, seq, hidden)

    def dispatch(
        self,
        x: torch.Tensor,
        chosen: torch.Tensor,
        weights: torch.Tensor,
        capacity_factor: float = 0.0,
        fused: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Σ over each token's chosen experts of weight · expert(token), running only the chosen experts, and
        the share of each token's assignments dropped for want of capacity (N,); `fused` runs each geometry's
        experts compiled (`ExpertGroup.run`).

        With a capacity factor every expert gets exactly its capacity of rows (`dispatch_at_capacity`): no
        shape depends on the routing, so there is no host synchronisation, and torch.compile traces it whole
        when every expert may join the model's graph (compiled experts, none of them complex). Without one,
        each geometry's experts are padded to its busiest expert (`dispatch_by_count`)."""
        if capacity_factor > 0 and x.shape[0] > 1:
            capacity = math.ceil(capacity_factor * chosen.numel() / self.options.num_experts)
            traceable = fused and all(group.compilable for group in self.groups)
            at_capacity = self.dispatch_at_capacity if traceable else self.dispatch_at_capacity_eagerly
            return at_capacity(x, chosen, weights, capacity, fused)
        return self.dispatch_by_count(x, chosen, weights, fused)

    @torch.compiler.disable
    def dispatch_at_capacity_eagerly(self, *args: object) -> tuple[torch.Tensor, torch.Tensor]:
        """`dispatch_at_capacity` kept out of an enclosing compiled graph, for experts that run eagerly."""
        return self.dispatch_at_capacity(*args)

    def sorted_assignments(self, chosen: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """The (token, expert) assignments of `chosen` (N, k) sorted by expert, token order kept within one:
        the order, each sorted assignment's expert and its place among its expert's, and every expert's count
        (a scatter, where `bincount` would read the largest expert index on the host)."""
        experts = chosen.reshape(-1)
        order = experts.argsort(stable=True)
        counts = experts.new_zeros(self.options.num_experts).scatter_add_(0, experts, torch.ones_like(experts))
        ranked = experts[order]
        place = torch.arange(order.shape[0], device=chosen.device) - (counts.cumsum(0) - counts)[ranked]
        return order, ranked, place, counts

    def dispatch_at_capacity(
        self, x: torch.Tensor, chosen: torch.Tensor, weights: torch.Tensor, capacity: int, fused: bool
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """`dispatch` with `capacity` rows for every expert: an expert's first `capacity` assignments in token
        order take its rows, later ones are dropped (they go to a sink row that reads zeros), and padding fills
        the rest. Every geometry runs, chosen or not."""
        top_k, num = self.options.top_k, self.options.num_experts
        order, ranked, rank, _ = self.sorted_assignments(chosen)
        kept = rank < capacity
        sink = num * capacity
        cells = torch.where(kept, ranked * capacity + rank, sink)  # (expert, place) of each assignment
        tokens = order // top_k
        rows = x.new_zeros(sink + 1, x.shape[-1]).index_add(0, cells, x[tokens])[:sink].view(num, capacity, -1)
        outputs = []
        for group, first in zip(self.groups, self.first_expert, strict=True):
            outputs.append(group.run(rows[first : first + group.count], fused=fused))
        out = torch.cat([torch.cat(outputs).flatten(0, 1), x.new_zeros(1, x.shape[-1])])  # the sink reads zeros
        dropped = torch.zeros_like(rank, dtype=torch.float32).scatter(0, order, (~kept).float())
        return combine(x, out[cells], weights, order, tokens), dropped.view(-1, top_k).mean(-1)

    @torch.compiler.disable
    def dispatch_by_count(
        self, x: torch.Tensor, chosen: torch.Tensor, weights: torch.Tensor, fused: bool
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """`dispatch` without a capacity: each geometry's experts on their rows as sorted, through torch's grouped
        matmul where it runs (`ExpertGroup.takes_grouped`), otherwise padded to the group's busiest expert; how
        many rows each expert got is read on the host (one synchronisation per layer), since each geometry's
        computation has its own shape. A single token (decoding one sequence) runs its top-k experts one by
        one: sorting, padding and scattering one row would cost more than its experts do.

        Under torch.compile this runs eagerly: how many rows each expert gets is known only at run time, and
        tracing it would recompile for every new busiest-expert width. The experts' own computation, whose
        shapes are dynamic anyway, is then compiled on its own."""
        top_k, dropped = self.options.top_k, x.new_zeros(x.shape[0], dtype=torch.float32)  # nothing is dropped
        if x.shape[0] == 1:  # one token (decoding one sequence): its experts one by one, nothing to sort or drop
            outputs = [self.expert(expert, x, fused) for expert in chosen[0].tolist()]
            return weights.to(x.dtype) @ torch.cat(outputs), dropped
        order, ranked, slot, counts = self.sorted_assignments(chosen)
        tokens = order // top_k
        sizes = counts.tolist()  # the one host sync
        outputs, start = [], 0
        for group, first in zip(self.groups, self.first_expert, strict=True):
            group_sizes = sizes[first : first + group.count]
            taken = sum(group_sizes)
            if not taken:
                continue  # a geometry nobody chose is never run
            rows = slice(start, start + taken)
            picked = x[tokens[rows]]  # the geometry's rows, sorted by expert
            if group.takes_grouped(x.device):  # the rows as they are sorted, no padding
                layout = Grouped(counts[first : first + group.count].cumsum(0).int(), ranked[rows] - first)
                outputs.append(group.run(picked, layout, fused))
            else:
                width = max(group_sizes)
                cells = (ranked[rows] - first) * width + slot[rows]  # (expert, place) of each row, padded to `width`
                padded = x.new_zeros(group.count * width, x.shape[-1]).index_copy(0, cells, picked)
                outputs.append(group.run(padded.view(group.count, width, -1), fused=fused).flatten(0, 1)[cells])
            start += taken
        return combine(x, torch.cat(outputs), weights, order, tokens), dropped

    def report(
        self,
        logits: torch.Tensor,
        chosen: torch.Tensor,
        real: torch.Tensor,
        ctx: ForwardContext,
        shape: tuple[int, int],
    ) -> None:
        """The balance and z losses over real tokens (`real`: (N, 1), 1 at real tokens), and the per-token load
        and entropy statistics, each where the context collects it."""
        if not (ctx.collect_losses or ctx.collect_stats):
            return
        num = self.options.num_experts
        load = F.one_hot(chosen, num).float().sum(1) / self.options.top_k  # (N, E), rows sum to 1
        probs = logits.softmax(-1)
        if ctx.collect_losses:
            tokens = real.sum().clamp(min=1)
            share = (load * real).sum(0) / tokens
            mean_prob = (probs * real).sum(0) / tokens
            ctx.add_loss(BALANCE, num * (share * mean_prob).sum())
            ctx.add_loss(Z_LOSS, (torch.logsumexp(logits, -1, keepdim=True).pow(2) * real).sum() / tokens)
        if ctx.collect_stats:
            entropy = -(probs * probs.clamp_min(1e-20).log()).sum(-1)
            ctx.add_stat(LOAD, load.view(*shape, num))
            ctx.add_stat(ENTROPY, entropy.view(*shape))
