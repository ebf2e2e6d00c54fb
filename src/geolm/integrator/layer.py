"""The `integrator` FFN part: each token's state (x, v) iterates toward a learnt equilibrium, and each token
stops on its own.

x starts at a projection of the token's hidden state, v at 0; every iteration a controller reads [h, x, v]
and sets the gains of the update in `geolm.integrator.dynamics`; the output is a projection of the final x.
The FFN sees one token at a time, so halting cannot look at other tokens: causal by construction, and a
cached decoding step computes what the full forward computes.

Halting is a mask over tokens: a halted token's state is frozen, nothing loops over tokens, and training
halts exactly as inference does. The loop runs `max_iterations` times in training (no host synchronisation);
without gradients it leaves as soon as every token has halted (one check per iteration), which is where the
saving shows up in time.

Auxiliary losses (`aux_loss_weights`, each a mean over layers and real tokens): `integrator_equilibrium`,
the variance-weighted pull of x toward μ (neurons whose final velocity varies more over tokens weigh more);
`integrator_energy`, the final kinetic energy mean(v²); `integrator_speed`, the mean residual over the
iterations a token ran, which rewards settling fast; `integrator_ponder`, ACT's N + R (learned halting only);
`integrator_router_balance` (a mixture of controllers only, see `ControllerMixture`).
Statistics: `integrator_iterations` (B, T), `integrator_layer_iterations` (B, T, layers) and
`integrator_residual` (B, T), the relative residual when the token stopped, and with a mixture
`integrator_controller_load` (B, T, K).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.checkpoint import checkpoint

from geolm.config import GeoConfig
from geolm.integrator import dynamics
from geolm.integrator.options import IntegratorOptions
from geolm.nn.baseline import SwiGLU
from geolm.nn.context import ForwardContext
from geolm.nn.registry import FFN

EQUILIBRIUM, ENERGY, SPEED, PONDER, BALANCE = (
    "integrator_equilibrium",
    "integrator_energy",
    "integrator_speed",
    "integrator_ponder",
    "integrator_router_balance",
)
LOAD = "integrator_controller_load"
ITERATIONS, LAYER_ITERATIONS, RESIDUAL = "integrator_iterations", "integrator_layer_iterations", "integrator_residual"
SHARED_CONTROLLER, SHARED_EQUILIBRIUM = "integrator_controller", "integrator_equilibrium"


class Controller(nn.Module):
    """[h, x, v] → the raw gains (…, 4·S). The h part is computed once per token, the state part each iteration."""

    def __init__(self, hidden: int, state: int, width: int) -> None:
        super().__init__()
        self.context_proj = nn.Linear(hidden, width)
        self.state_proj = nn.Linear(2 * state, width, bias=False)
        self.out_proj = nn.Linear(width, 4 * state)

    def context(self, h: torch.Tensor, sizes: list[int] | None = None) -> torch.Tensor:
        return self.context_proj(h)

    def forward(
        self, context: torch.Tensor, x: torch.Tensor, v: torch.Tensor, sizes: list[int] | None = None
    ) -> torch.Tensor:
        state = self.state_proj(torch.cat([x, v], -1).to(context.dtype))
        return self.out_proj(F.silu(context + state))


class ControllerMixture(nn.Module):
    """K controllers and a router that gives each token one of them (the seed's mixture of integrators).

    Tokens are sorted by their controller once per layer and each controller runs on its contiguous slice at
    every iteration: a loop over the K controllers, never over tokens, and one host synchronisation per layer
    (the slice sizes). The chosen controller's router probability scales the layer's output, as in the Switch
    Transformer, so the router learns; `integrator_router_balance` = K·Σ fᵢ·Pᵢ keeps the load even.
    """

    def __init__(self, hidden: int, state: int, width: int, count: int) -> None:
        super().__init__()
        self.router = nn.Linear(hidden, count, bias=False)
        self.bank = nn.ModuleList(Controller(hidden, state, width) for _ in range(count))

    def dispatch(self, rows: torch.Tensor) -> Dispatch:
        """Route the tokens `rows` (N, D): the order that sorts them by controller and the slice sizes."""
        probs = self.router(rows).float().softmax(-1)
        choice = probs.argmax(-1)
        order = torch.argsort(choice, stable=True)
        sizes = torch.bincount(choice, minlength=len(self.bank)).tolist()  # the layer's one host sync
        return Dispatch(order, sizes, probs, choice)

    def context(self, h: torch.Tensor, sizes: list[int] | None = None) -> torch.Tensor:
        return torch.cat([c.context(part) for c, part in zip(self.bank, h.split(sizes), strict=True)])

    def forward(self, context: torch.Tensor, x: torch.Tensor, v: torch.Tensor, sizes: list[int]) -> torch.Tensor:
        pieces = zip(self.bank, context.split(sizes), x.split(sizes), v.split(sizes), strict=True)
        return torch.cat([controller(c, xs, vs) for controller, c, xs, vs in pieces])


@dataclass
class Dispatch:
    """Tokens sorted by controller (`order`), how many each got, the router's probabilities and choices."""

    order: torch.Tensor
    sizes: list[int]
    probs: torch.Tensor
    choice: torch.Tensor


@dataclass
class Iterated:
    """Per token (rows): the final state and velocity, how many iterations ran, the residual when the token
    stopped, the sum of its residuals over the iterations it ran, and ACT's remainder (learned halting)."""

    x: torch.Tensor
    v: torch.Tensor
    count: torch.Tensor
    residual: torch.Tensor
    residual_sum: torch.Tensor
    remainder: torch.Tensor | None

    def reordered(self, index: torch.Tensor) -> Iterated:
        pick = lambda t: t[index] if t is not None else None  # noqa: E731
        return Iterated(*(pick(getattr(self, f.name)) for f in fields(self)))


class Equilibrium(nn.Module):
    """A learnable equilibrium μ (S,), starting at 0."""

    def __init__(self, state: int) -> None:
        super().__init__()
        self.mu = nn.Parameter(torch.zeros(state))

    @torch.no_grad()
    def reset_parameters(self) -> None:
        self.mu.zero_()


@FFN.register("integrator")
class IntegratorFFN(nn.Module):
    """in_proj → iterate (x, v) under the controller → out_proj; see the module docstring. With `dense_ffn`
    the output is SwiGLU(h) + gain ⊙ that, the gain starting at zero."""

    options_class = IntegratorOptions
    modulated_roles: ClassVar[tuple[str, ...]] = ("in_proj", "out_proj")
    aux_loss_weights: ClassVar[dict[str, float]] = {
        EQUILIBRIUM: 0.01,
        ENERGY: 0.001,
        SPEED: 0.01,
        PONDER: 0.01,
        BALANCE: 0.01,
    }

    def __init__(self, config: GeoConfig, layer_idx: int, modulation: nn.Module) -> None:
        super().__init__()
        self.options = options = IntegratorOptions.from_config(config)
        self.layer_idx, self.num_layers = layer_idx, config.num_hidden_layers
        hidden = config.hidden_size
        self.state_size = state = options.state_size or hidden
        self.controller_size = options.controller_size or max(1, state // 2)
        self.in_proj = modulation.linear(hidden, state, layer_idx=layer_idx, role="in_proj")
        self.out_proj = modulation.linear(state, hidden, layer_idx=layer_idx, role="out_proj")
        if not options.share_controller:
            self.controller = self.new_controller(hidden)
        if options.equilibrium == "layer":
            self.equilibrium = Equilibrium(state)
        else:  # the global μ is shared (see `bind_shared`); this layer learns its offset from it
            self.equilibrium_offset = nn.Parameter(torch.zeros(state))
        excited = options.excited(state)
        self.excitation_amplitude = nn.Parameter(torch.empty(excited))
        self.excitation_frequency = nn.Parameter(torch.empty(excited))
        self.excitation_phase = nn.Parameter(torch.empty(excited))
        if options.halting == "learned":
            self.halting_unit = nn.Linear(2 * state, 1)
        if options.dense_ffn:
            self.dense = SwiGLU(config, layer_idx, modulation)
            self.branch_gain = nn.Parameter(torch.empty(hidden))
        self.reset_parameters()

    @torch.no_grad()
    def reset_parameters(self) -> None:
        """This module's own tensors (the layers inside reset their own): the excitation's amplitude, its
        frequencies spread over [0.5, 2] and phases around the circle; offsets and the dense path's gain at 0."""
        excited = self.excitation_amplitude.shape[0]
        self.excitation_amplitude.fill_(self.options.excitation_init)
        self.excitation_frequency.copy_(torch.linspace(0.5, 2.0, excited))
        self.excitation_phase.copy_(torch.arange(excited) * (2 * math.pi / excited))
        for name in ("equilibrium_offset", "branch_gain"):
            if hasattr(self, name):
                getattr(self, name).zero_()

    def new_controller(self, hidden: int) -> nn.Module:
        if self.options.controllers == 1:
            return Controller(hidden, self.state_size, self.controller_size)
        return ControllerMixture(hidden, self.state_size, self.controller_size, self.options.controllers)

    def bind_shared(self, shared: nn.ModuleDict) -> None:
        """Called once per layer after the model is built: take the modules every layer shares from `shared`
        (creating them at the first layer). They are held without registering, so they are saved and counted
        once, under `model.shared`."""
        if self.options.share_controller:
            if SHARED_CONTROLLER not in shared:
                shared[SHARED_CONTROLLER] = self.new_controller(self.in_proj.in_features)
            self.__dict__["controller"] = shared[SHARED_CONTROLLER]
        if self.options.equilibrium == "hierarchical":
            if SHARED_EQUILIBRIUM not in shared:
                shared[SHARED_EQUILIBRIUM] = Equilibrium(self.state_size)
            self.__dict__["global_equilibrium"] = shared[SHARED_EQUILIBRIUM]

    def mu(self) -> torch.Tensor:
        if self.options.equilibrium == "layer":
            return self.equilibrium.mu.float()
        return (self.global_equilibrium.mu + self.equilibrium_offset).float()

    def excitation(self, iteration: int | torch.Tensor, scale: float) -> torch.Tensor:
        """s_n over the whole state (S,), zero at the neurons without an excitation; for a column of iteration
        numbers (n, 1), one row per iteration (n, S), which a forward computes once for all its iterations."""
        s = dynamics.excitation(
            self.excitation_amplitude.float(),
            self.excitation_frequency.float(),
            self.excitation_phase.float(),
            iteration,
            scale,
        )
        excited = s.shape[-1]
        if excited == self.state_size:
            return s
        index = torch.arange(excited, device=s.device) * self.state_size // excited  # spread evenly
        return s.new_zeros(*s.shape[:-1], self.state_size).index_copy(-1, index, s)

    def iterate(
        self,
        context: torch.Tensor,
        x: torch.Tensor,
        v: torch.Tensor,
        mu: torch.Tensor,
        drive: torch.Tensor,
        start_norm: torch.Tensor,
        sizes: list[int] | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """One update of every token: the new x and v, and the relative residual of the step."""
        alpha, beta, gate, candidate = dynamics.gains(self.controller(context, x, v, sizes), self.options)
        v_new = dynamics.velocity(v, x - mu, alpha, beta, candidate, drive, self.options.velocity_bound)
        rate = self.options.dt * gate
        step = rate * v_new
        x_new = x + step
        return x_new, v_new, dynamics.relative_residual(step, rate * drive, x_new, start_norm)

    def forward(self, h: torch.Tensor, ctx: ForwardContext) -> torch.Tensor:
        options = ctx.current(self.options)
        shape = h.shape[:-1]
        rows, x = h.reshape(-1, h.shape[-1]), self.in_proj(h, ctx).float().reshape(-1, self.state_size)
        dispatch = self.controller.dispatch(rows) if options.controllers > 1 else None
        if dispatch is not None:
            rows, x = rows[dispatch.order], x[dispatch.order]
        sizes = dispatch.sizes if dispatch is not None else None
        result = self.run(self.controller.context(rows, sizes), x, options, sizes)
        if dispatch is not None:
            result = result.reordered(torch.argsort(dispatch.order))
        out = self.out_proj(result.x.reshape(*shape, -1).to(h.dtype), ctx)
        if dispatch is not None:
            out = out * dispatch.probs.gather(-1, dispatch.choice[:, None]).reshape(*shape, 1).to(out.dtype)
        self.report(ctx, options, result, shape, dispatch)
        if options.dense_ffn:
            return self.dense(h, ctx) + self.branch_gain.to(out.dtype) * out
        return out

    def run(
        self, context: torch.Tensor, x: torch.Tensor, options: IntegratorOptions, sizes: list[int] | None
    ) -> Iterated:
        """Iterate every token (rows of `x`) until it halts or `max_iterations` have run."""
        v = torch.zeros_like(x)
        mu, start_norm = self.mu(), torch.linalg.vector_norm(x, dim=-1)
        active = torch.ones(x.shape[:-1], dtype=torch.bool, device=x.device)
        count, residual, residual_sum = (torch.zeros(x.shape[:-1], device=x.device) for _ in range(3))
        learned = options.halting == "learned"
        if learned:
            halted_sum, out_x, remainder = torch.zeros_like(count), torch.zeros_like(x), torch.ones_like(count)
        checkpointed = options.checkpoint_iterations and self.training and torch.is_grad_enabled()
        may_exit = options.exit_when_halted and not torch.is_grad_enabled() and not torch.compiler.is_compiling()
        iterations = torch.arange(options.max_iterations, dtype=torch.float32, device=x.device)[:, None]
        drives = self.excitation(iterations, options.excitation_scale)  # (iterations, S)
        for n in range(options.max_iterations):
            drive = drives[n]
            step_inputs = (context, x, v, mu, drive, start_norm, sizes)
            if checkpointed:
                x_new, v_new, res = checkpoint(self.iterate, *step_inputs, use_reentrant=False)
            else:
                x_new, v_new, res = self.iterate(*step_inputs)
            running = active.unsqueeze(-1)
            x, v = torch.where(running, x_new, x), torch.where(running, v_new, v)
            count = count + active
            residual = torch.where(active, res, residual)
            residual_sum = residual_sum + active * res
            may_halt = n + 1 >= options.min_iterations
            if learned:
                p = torch.sigmoid(self.halting_unit(torch.cat([x_new, v_new], -1).to(context.dtype)).float()).squeeze(
                    -1
                )
                p = p if may_halt else torch.zeros_like(p)
                last = n + 1 == options.max_iterations
                stop = active & ((halted_sum + p >= 1 - self.options.halting_threshold) | last)
                weight = torch.where(stop, 1 - halted_sum, torch.where(active, p, torch.zeros_like(p)))
                out_x = out_x + weight.unsqueeze(-1) * x_new
                remainder = torch.where(stop, 1 - halted_sum, remainder)
                halted_sum = halted_sum + torch.where(active & ~stop, p, torch.zeros_like(p))
                active = active & ~stop
            elif options.halting == "residual" and may_halt:
                active = active & (res >= options.tolerance)
            if may_exit and may_halt and not bool(active.any()):
                break
        return Iterated(out_x if learned else x, v, count, residual, residual_sum, remainder if learned else None)

    def report(
        self,
        ctx: ForwardContext,
        options: IntegratorOptions,
        result: Iterated,
        shape: torch.Size,
        dispatch: Dispatch | None,
    ) -> None:
        """Hand the losses and statistics of this layer to the forward context (see the module docstring), each
        where the context collects it."""
        if not (ctx.collect_losses or ctx.collect_stats):
            return
        load = F.one_hot(dispatch.choice, options.controllers).float() if dispatch is not None else None
        if ctx.collect_losses:
            self.report_losses(ctx, options, result, dispatch, load)
        if not ctx.collect_stats:
            return
        if load is not None:
            ctx.add_stat(LOAD, load.reshape(*shape, -1))
        count = result.count.reshape(shape)
        ctx.add_stat(ITERATIONS, count)
        by_layer = count.new_zeros(*shape, self.num_layers)
        by_layer[..., self.layer_idx] = count * self.num_layers  # averaged over the layers' calls: this layer's count
        ctx.add_stat(LAYER_ITERATIONS, by_layer)
        ctx.add_stat(RESIDUAL, result.residual.reshape(shape))

    def report_losses(
        self,
        ctx: ForwardContext,
        options: IntegratorOptions,
        result: Iterated,
        dispatch: Dispatch | None,
        load: torch.Tensor | None,
    ) -> None:
        """The equilibrium, energy, speed, ponder and balance losses, each a mean over real tokens."""
        real = ctx.token_mask.reshape(-1).float() if ctx.token_mask is not None else torch.ones_like(result.count)
        tokens = real.sum().clamp(min=1)

        def mean(per_token: torch.Tensor) -> torch.Tensor:
            return (per_token * real).sum() / tokens / self.num_layers

        v, x = result.v, result.x
        spread = ((v - (v * real[:, None]).sum(0) / tokens) ** 2 * real[:, None]).sum(0) / tokens
        weights = (spread / spread.mean().clamp(min=1e-12)).detach()  # 1 on average; unstable neurons above
        ctx.add_loss(EQUILIBRIUM, mean(((x - self.mu()) ** 2 * weights).mean(-1)))
        ctx.add_loss(ENERGY, mean(v.pow(2).mean(-1)))
        ctx.add_loss(SPEED, mean(result.residual_sum / options.max_iterations))
        if result.remainder is not None:
            ctx.add_loss(PONDER, mean(result.count + result.remainder))
        if dispatch is not None and load is not None:
            share = (load * real[:, None]).sum(0) / tokens
            mean_prob = (dispatch.probs * real[:, None]).sum(0) / tokens
            ctx.add_loss(BALANCE, options.controllers * (share * mean_prob).sum() / self.num_layers)
