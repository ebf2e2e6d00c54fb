"""The example part of docs/architecture.md: a loss, a statistic and a phase setting (kept in step with it)."""

from dataclasses import dataclass

from geolm.nn import FFN
from geolm.nn.baseline import SwiGLU
from geolm.nn.options import PartOptions, in_interval, option


@dataclass(frozen=True)
class DampedOptions(PartOptions):
    kind = "ffn"
    damping: float = option(1.0, in_interval(0.0, 1.0, closed_high=True), "in [0, 1]", phase=True)


@FFN.register("damped_swiglu")
class DampedSwiGLU(SwiGLU):
    """SwiGLU whose output a phase can damp; it penalises large outputs and reports their size per token."""

    options_class = DampedOptions
    aux_loss_weights = {"ffn_energy": 0.1}  # noqa: RUF012 (name -> default weight, read by the trainer)

    def __init__(self, config, layer_idx, modulation):
        super().__init__(config, layer_idx, modulation)
        self.options = DampedOptions.from_config(config)

    def forward(self, x, ctx):
        out = super().forward(x, ctx) * ctx.current(self.options).damping
        ctx.add_loss("ffn_energy", out.pow(2).mean())  # summed over layers
        ctx.add_stat("ffn_norm", out.norm(dim=-1))  # (B, T), averaged over layers
        return out
