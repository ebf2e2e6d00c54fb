"""mgm-small (with and without its memory slots) against dense Llamas of the same shape with equal active and
with equal total parameters, and the share of the mixture's forward time spent routing and dispatching."""

from __future__ import annotations

import time
from collections.abc import Callable

import torch

from benchmarks.common import interleaved, throughput
from geolm import GeoConfig, GeoForCausalLM
from geolm.experiments.measure import TrainingStep
from geolm.experts.moe import GeometricMoE
from geolm.params import parameter_table

MIXTURE = "mgm-small"
NO_MEMORY = "mgm-small, no memory"
COMPILED = "mgm-small, compiled experts"
NO_MEMORY_COMPILED = "mgm-small, no memory, compiled experts"


WIDE = 512  # the width of the training-only comparison (goal: at most 1.3x the equal-active dense model)


def dense_twin(config: GeoConfig, ffn_parameters: float) -> GeoForCausalLM:
    """The baseline of `config`'s shape whose SwiGLU (3 matrices) holds `ffn_parameters` per layer."""
    width = 64 * max(1, round(ffn_parameters / (3 * config.hidden_size) / 64))
    shape = {key: getattr(config, key) for key in ("num_hidden_layers", "hidden_size", "num_attention_heads")}
    return GeoForCausalLM(
        GeoConfig.from_preset(
            "llama-10m", **shape, num_key_value_heads=config.num_key_value_heads, intermediate_size=width
        )
    )


def widened(config: GeoConfig, width: int) -> GeoConfig:
    """`config` at hidden size `width`: heads as wide as before, more of them, experts widened alike."""
    scale = width // config.hidden_size
    wider = GeoConfig.from_dict(
        {
            **config.to_dict(),
            "hidden_size": width,
            "num_attention_heads": config.num_attention_heads * scale,
            "num_key_value_heads": config.num_key_value_heads * scale,
        }
    )
    return with_ffn_options(wider, expert_size=config.part_options["ffn"]["expert_size"] * scale)


def ffn_parameters(model: GeoForCausalLM) -> dict[str, float]:
    """Active and total parameters per layer of the mixture's experts and router."""
    table = parameter_table(model).set_index("component")
    layers = model.config.num_hidden_layers
    return {key: (table.loc["experts", key] + table.loc["router", key]) / layers for key in ("active", "parameters")}


def with_ffn_options(config: GeoConfig, **options: object) -> GeoConfig:
    """`config` with these options of its mixture set."""
    ffn = {**config.part_options["ffn"], **options}
    return GeoConfig.from_dict({**config.to_dict(), "part_options": {**config.part_options, "ffn": ffn}})


def with_compiled_experts(config: GeoConfig) -> GeoConfig:
    """`config` with every geometry's experts compiled on their own (`experts_implementation`)."""
    return with_ffn_options(config, experts_implementation="compiled")


def compiled_twin(model: GeoForCausalLM) -> GeoForCausalLM:
    """`model` with the same weights and its experts compiled."""
    twin = GeoForCausalLM(with_compiled_experts(model.config))
    twin.load_state_dict(model.state_dict())
    return twin


def without_memory(name: str) -> GeoConfig:
    """The preset with its memory part removed (and the memory's options with it)."""
    options = {kind: o for kind, o in GeoConfig.from_preset(name).part_options.items() if kind != "memory"}
    return GeoConfig.from_preset(name, memory="none", part_options=options)


@torch.no_grad()
def time_shares(model: GeoForCausalLM, batch: int = 8, seq_len: int = 256, repeats: int = 5) -> dict[str, float]:
    """Shares of a forward's wall time spent in the mixture's routing (router, top-k, losses and statistics)
    and in its dispatch (sorting, the experts, combining), timed by wrapping those methods."""
    spent = {"route": 0.0, "dispatch": 0.0}
    originals = {name: getattr(GeometricMoE, name) for name in ("route", "report", "dispatch")}

    def clocked(name: str, key: str) -> Callable:
        def run(self, *args, **kwargs):
            start = time.perf_counter()
            try:
                return originals[name](self, *args, **kwargs)
            finally:
                spent[key] += time.perf_counter() - start

        return run

    tokens = torch.randint(3, model.config.vocab_size, (batch, seq_len), generator=torch.Generator().manual_seed(0))
    model.eval()
    model(tokens, use_cache=False)  # warm-up
    try:
        for name, key in (("route", "route"), ("report", "route"), ("dispatch", "dispatch")):
            setattr(GeometricMoE, name, clocked(name, key))
        start = time.perf_counter()
        for _ in range(repeats):
            model(tokens, use_cache=False)
        total = time.perf_counter() - start
    finally:
        for name, method in originals.items():
            setattr(GeometricMoE, name, method)
    return {key: value / total for key, value in spent.items()}


def run() -> dict:
    """Training and cached-generation tokens/s of the mixture, without its memory, and its two dense twins;
    the time ratios; the routing and dispatch shares of the forward."""
    torch.manual_seed(0)
    mixture = GeoForCausalLM(GeoConfig.from_preset(MIXTURE))
    plain = GeoForCausalLM(without_memory(MIXTURE))
    per_layer = ffn_parameters(mixture)
    models = {
        MIXTURE: mixture,
        NO_MEMORY: plain,
        COMPILED: compiled_twin(mixture),
        NO_MEMORY_COMPILED: compiled_twin(plain),
        "dense, equal active": dense_twin(mixture.config, per_layer["active"]),
        "dense, equal total": dense_twin(mixture.config, per_layer["parameters"]),
    }
    result = throughput(models, repeats=5)  # the compiled experts compile in the untimed first call
    result["parameters"] = {}
    for name, model in models.items():
        counts = parameter_table(model)
        result["parameters"][name] = {"total": int(counts["parameters"].sum()), "active": int(counts["active"].sum())}
    train, gen = result["train_tokens_per_s"], result["generate_tokens_per_s"]
    peer = "dense, equal active"  # time ratio = how many times longer a row takes than this peer
    result["train_ratio"] = {name: train[peer] / train[name] for name in models}
    result["generate_ratio"] = {name: gen[peer] / gen[name] for name in models}
    result["time_shares"] = time_shares(plain)
    result["wide"] = wide_training(WIDE)
    return result


def wide_training(width: int) -> dict:
    """Training tokens/s of the mixture without memory, compiled experts, at hidden size `width` against its
    equal-active dense twin, and the time ratio."""
    torch.manual_seed(0)
    mixture = GeoForCausalLM(widened(with_compiled_experts(without_memory(MIXTURE)), width))
    dense = dense_twin(mixture.config, ffn_parameters(mixture)["active"])
    tokens = torch.randint(3, mixture.config.vocab_size, (8, 256), generator=torch.Generator().manual_seed(0))
    seconds = interleaved({"mixture": TrainingStep(mixture, tokens), "dense": TrainingStep(dense, tokens)}, repeats=3)
    return {
        "width": width,
        "tokens_per_s": {name: tokens.numel() / s for name, s in seconds.items()},
        "ratio": seconds["mixture"] / seconds["dense"],
        "dense_intermediate_size": dense.config.intermediate_size,
        "expert_size": mixture.config.part_options["ffn"]["expert_size"],
    }


def markdown(result: dict) -> str:
    """Time ratio = the equal-active dense model's tokens/s over the row's (how much longer the row takes)."""
    lines = [
        f"Training: {result['train_shape']}; generation: {result['generate_shape']}. The time ratio is how "
        "many times longer the row's model takes than the dense model with equal active parameters (goals for "
        "the mixture: training <= 1.8x, cached generation <= 2.5x).",
        "",
        "| model | total parameters | active per token | training tokens/s | time ratio "
        "| generation tokens/s | time ratio |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, counts in result["parameters"].items():
        lines.append(
            f"| {name} | {counts['total']:,} | {counts['active']:,} | {result['train_tokens_per_s'][name]:.0f} | "
            f"{result['train_ratio'][name]:.2f}x | {result['generate_tokens_per_s'][name]:.1f} | "
            f"{result['generate_ratio'][name]:.2f}x |"
        )
    shares, wide = result["time_shares"], result["wide"]
    lines += [
        "",
        f"Of a forward of {NO_MEMORY} (8 x 256 tokens, no gradient), routing (router, top-k, balance and z losses, "
        f"statistics) takes {shares['route']:.1%} and dispatch (sorting, the experts, combining) "
        f"{shares['dispatch']:.1%}; the rest is attention, norms, embeddings and the output layer.",
        "",
        f"At width {wide['width']} (heads 32 wide, experts {wide['expert_size']} wide, 8 x 256 tokens, median of "
        f"3 alternating steps), {NO_MEMORY_COMPILED} trains at {wide['tokens_per_s']['mixture']:.0f} tokens/s and "
        f"its equal-active dense twin (SwiGLU {wide['dense_intermediate_size']} wide) at "
        f"{wide['tokens_per_s']['dense']:.0f}: a time ratio of {wide['ratio']:.2f}x (goal <= 1.3x).",
        "",
        "Compiled experts: `part_options['ffn']['experts_implementation'] = 'compiled'`, the rest of the model eager. "
        "Each geometry's experts (all but the complex ones) run as one compiled graph, which fuses the chain of "
        "small elementwise operations of its layers; compiling takes some seconds per geometry at the first call "
        "(not timed).",
    ]
    return "\n".join(lines)
