"""Coordinate-modulated projections, computed in low-rank form without ever forming W_eff:

    W_eff(theta) x = W x + sum_i [cos(theta.c_i) U_i V_i^T x + sin(theta.c_i) P_i Q_i^T x].

The K cos factors and K sin factors of one projection are stacked into
`down` (2Kr x in, the V_i and Q_i) and `up` (out x 2Kr, the U_i and P_i); per token
    z = down x,  z *= gates,  delta = up z,
where `gates` repeats each of the 2K coefficients [cos(theta.c), sin(theta.c)] r times. That is two thin
matmuls per modulated projection for the whole batch, with no loop over wavelets or examples.

Which coordinates drive the weights: the running context theta_ctx (see `geolm.coordinate.scan`), not the
per-token theta. Attention already sees each token; the modulation carries what the sequence so far is
about, and the gap theta - theta_ctx is what adaptive decoding reads as uncertainty.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
import torch.nn.functional as F
from torch import nn

from geolm.config import GeoConfig
from geolm.coordinate.options import CoordinateOptions
from geolm.coordinate.predictor import CoordinatePredictor
from geolm.coordinate.scan import causal_ema
from geolm.errors import ConfigError
from geolm.nn import MODULATION, ForwardContext, Linear
from geolm.nn.cache import GeoCache, PartState

# Names under which the modulation leaves its results: in `ctx.state` (per token), in the cache (its state
# "coordinate": the theta_ctx history, and a START context if one was given) and as statistics (uncertainty
# always; theta and theta_ctx when a recorder asks for detail).
THETA, CONTEXT, COEFFICIENTS, GATES, UNCERTAINTY = (
    "coordinates",
    "coordinate_context",
    "coordinate_coefficients",
    "coordinate_gates",
    "coordinate_uncertainty",
)
STATE, START = "coordinate", "coordinate_start"


class FactorBank(nn.Module):
    """The stacked low-rank factors of one projection (or of one role in every layer, when shared)."""

    def __init__(self, in_features: int, out_features: int, options: CoordinateOptions) -> None:
        super().__init__()
        self.init_scale = options.init_scale
        self.down = nn.Parameter(torch.empty(options.width, in_features))
        self.up = nn.Parameter(torch.empty(out_features, options.width))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Down projections of unit gain; up projections at `init_scale` (0: the bank starts at zero output)."""
        with torch.no_grad():
            self.down.copy_(torch.randn(self.down.shape) * self.down.shape[1] ** -0.5)
            self.up.copy_(torch.randn(self.up.shape) * self.init_scale)

    def forward(self, x: torch.Tensor, gates: torch.Tensor) -> torch.Tensor:
        return F.linear(F.linear(x, self.down) * gates, self.up)


class CoordinateLinear(Linear):
    """A projection whose base weight keeps the plain name `weight` (lining up with a Llama checkpoint),
    plus the coordinate delta from its factor bank, which lives in the model's `CoordinateModulation`."""

    def __init__(
        self, in_features: int, out_features: int, owner: CoordinateModulation, key: str, bias: bool = False
    ) -> None:
        super().__init__(in_features, out_features, bias=bias)
        self.bank_key = key
        self._owner = (owner,)  # a tuple, so the owner is not registered a second time as a submodule

    def forward(self, x: torch.Tensor, ctx: ForwardContext | None = None) -> torch.Tensor:
        return F.linear(x, self.weight, self.bias) + self._owner[0].delta(self.bank_key, x, ctx)


@MODULATION.register("coordinate")
class CoordinateModulation(nn.Module):
    """Predictor, wavelet directions and factor banks of one model; runs once before the first layer.

    `forward` puts theta, theta_ctx, the cos/sin coefficients and the gates into `ctx.state`, reports the
    per-token uncertainty var_d(theta - theta_ctx) as the statistic "coordinate_uncertainty", and records the
    theta_ctx history in the cache: the next decoding step continues the scan from its end, and `crop` can cut
    it back, so assisted decoding works.
    """

    options_class = CoordinateOptions

    def __init__(self, config: GeoConfig) -> None:
        super().__init__()
        self.options = options = CoordinateOptions.from_config(config)
        self.predictor = CoordinatePredictor(
            config.hidden_size, options.predictor_hidden, options.coord_dim, config.rms_norm_eps
        )
        self.directions = nn.Parameter(torch.empty(options.wavelet_pairs, options.coord_dim))
        self.reset_parameters()
        self.banks = nn.ModuleDict()
        self.override: torch.Tensor | None = None

    def reset_parameters(self) -> None:
        """The wavelet directions, drawn anew (the predictor and banks reset their own)."""
        with torch.no_grad():
            self.directions.copy_(torch.randn(self.directions.shape))

    def linear(
        self, in_features: int, out_features: int, *, layer_idx: int, role: str, bias: bool = False
    ) -> nn.Module:
        """A `CoordinateLinear` for targeted roles, a plain `Linear` for the rest.

        A part with several copies of a projection names each copy's role with a prefix ("expert3.gate_proj");
        `targets` match the last component. Every (layer, role) gets its own factor bank, or with
        `share_across_layers` every role does; asking twice for one bank is an error, never silent sharing.
        """
        if role.rsplit(".", 1)[-1] not in self.options.targets:
            return Linear(in_features, out_features, bias=bias)
        key = (role if self.options.share_across_layers else f"layer{layer_idx}_{role}").replace(".", "_")
        if key in self.banks and not self.options.share_across_layers:
            raise ValueError(f"two projections of layer {layer_idx} asked for the factor bank of role {role!r}")
        if key not in self.banks:
            self.banks[key] = FactorBank(in_features, out_features, self.options)
        return CoordinateLinear(in_features, out_features, self, key, bias)

    def delta(self, key: str, x: torch.Tensor, ctx: ForwardContext | None) -> torch.Tensor:
        """The modulation term of the projection whose bank is `key`, for inputs `x` (B, T, in)."""
        if ctx is None or GATES not in ctx.state:
            raise RuntimeError("a coordinate-modulated projection needs the coordinates of this forward pass")
        return self.banks[key](x, ctx.state[GATES])

    def coordinates(
        self,
        inputs_embeds: torch.Tensor,
        initial: torch.Tensor | None = None,
        past: int = 0,
        token_mask: torch.Tensor | None = None,
        decay: float | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """theta (B, T, D) and theta_ctx (B, T, D) in float32 for tokens at positions past.. past+T-1.

        Padding (False in `token_mask`) gets theta = 0, so a left-padded prompt's context stays at its
        starting value 0 until the first real token, exactly as without the padding. `decay` defaults to the
        configured `context_decay`.
        """
        theta = self._apply_override(self.predictor(inputs_embeds), past)
        if token_mask is not None:
            theta = theta * token_mask[..., None].to(theta.dtype)
        return theta, causal_ema(theta, self.options.context_decay if decay is None else decay, initial)

    def forward(self, inputs_embeds: torch.Tensor, ctx: ForwardContext) -> None:
        cache = ctx.cache
        if cache is not None and not hasattr(cache, "part_states"):
            raise ConfigError("coordinate modulation needs a GeoCache (model.model.new_cache()) to decode")
        state = cache.state(STATE) if cache is not None else None
        past = cache.get_seq_length() if cache is not None else 0
        decay = ctx.current(self.options).context_decay
        theta, theta_ctx = self.coordinates(inputs_embeds, last_context(state), past, ctx.token_mask, decay)
        angles = theta_ctx @ self.directions.float().T
        coefficients = torch.cat((angles.cos(), angles.sin()), dim=-1)
        ctx.state.update(
            {
                THETA: theta,
                CONTEXT: theta_ctx,
                COEFFICIENTS: coefficients,
                GATES: coefficients.repeat_interleave(self.options.rank, dim=-1).to(inputs_embeds.dtype),
            }
        )
        if ctx.collect_stats:
            ctx.add_stat(UNCERTAINTY, (theta - theta_ctx).var(dim=-1, unbiased=False))
        if ctx.detail:
            ctx.add_stat(THETA, theta)
            ctx.add_stat(CONTEXT, theta_ctx)
        if cache is not None:  # the whole history of theta_ctx, so that crop() can rewind it
            history = theta_ctx if state is None else torch.cat((state.tensors[CONTEXT], theta_ctx), dim=1)
            start = {START: state.tensors[START]} if state is not None and START in state.tensors else {}
            cache.set_state(STATE, None, {CONTEXT: history, **start}, seq_dims={CONTEXT: 1})

    def _apply_override(self, theta: torch.Tensor, past: int) -> torch.Tensor:
        """Swap in the override: (B, D) for every token, or (B, T_o, D) for absolute positions < T_o."""
        override = self.override
        if override is None:
            return theta
        override = override.to(theta.device, torch.float32).expand(theta.shape[0], *override.shape[1:])
        if override.dim() == 2:
            return override[:, None].expand_as(theta)
        length = theta.shape[1]
        taken = max(0, min(length, override.shape[1] - past))
        return torch.cat((override[:, past : past + taken], theta[:, taken:]), dim=1)


def last_context(state: PartState | None) -> torch.Tensor | None:
    """theta_ctx after the last cached token (B, D): the end of the recorded history, else a given start."""
    if state is None:
        return None
    history = state.tensors[CONTEXT]
    return history[:, -1] if history.shape[1] else state.tensors.get(START)


def start_from(cache: GeoCache, context: torch.Tensor) -> None:
    """Make an empty `cache` start the context scan from `context` (B, D) instead of zero."""
    empty = context.new_zeros(context.shape[0], 0, context.shape[-1])
    cache.set_state(STATE, None, {CONTEXT: empty, START: context}, seq_dims={CONTEXT: 1})


def find_modulation(model: nn.Module) -> CoordinateModulation:
    """The `CoordinateModulation` inside `model`; `ConfigError` if the model has none."""
    for module in model.modules():
        if isinstance(module, CoordinateModulation):
            return module
    kind = getattr(getattr(model, "config", None), "modulation", "?")
    raise ConfigError(f"the model has no coordinate modulation (its config says modulation={kind!r})")


@contextmanager
def coordinate_override(model: nn.Module, theta: torch.Tensor | None) -> Iterator[None]:
    """Within the block, `model` uses `theta` instead of predicted coordinates (None leaves it unchanged).

    `theta` of shape (B, D) or (D,) fixes every token's coordinates; (B, T, D) replaces those of the first T
    positions (a refined prompt) and lets later tokens, such as generated ones, use the predictor.
    """
    modulation = find_modulation(model)
    previous = modulation.override
    if theta is not None:
        modulation.override = theta[None] if theta.dim() == 1 else theta
    try:
        yield
    finally:
        modulation.override = previous
