"""inl-small against llama-10m (equal parameters): training and generation tokens/s, with and without halting;
the memory a training step holds with and without the Level 1 optimisations; and, after a short training
run, held-out loss and iterations per token against the halting tolerance."""

from __future__ import annotations

import tempfile
from pathlib import Path

import torch

from benchmarks.common import throughput
from geolm import GeoConfig, GeoForCausalLM
from geolm.experiments.integrator import IntegratorExperiment, run_integrator
from geolm.params import parameter_table

INTEGRATOR, PEER = "inl-small", "llama-10m"
NO_HALTING = "inl-small, every token 10 iterations"
FACTORISED = {"embedding_size": 32}  # hidden / 8, the width behind the seed's -87% embedding parameters
ADAM_BYTES = 16  # fp32 weights, gradients and two AdamW moments per parameter


def inl_small(**overrides) -> GeoForCausalLM:
    return GeoForCausalLM(GeoConfig.from_preset(INTEGRATOR, **overrides))


def saved_bytes(model: GeoForCausalLM, batch: int = 8, seq_len: int = 256) -> tuple[int, list[int]]:
    """Bytes of the activations autograd saves for backward during one training forward (each storage once,
    counted by saved-tensor hooks), in all and by decoder layer; then the backward runs and frees them."""
    model.train()
    tokens = torch.randint(3, model.config.vocab_size, (batch, seq_len), generator=torch.Generator().manual_seed(0))
    storages: dict[int, tuple[int, int]] = {}
    current = [-1]
    hooks = [
        layer.register_forward_pre_hook(lambda module, args, i=i: current.__setitem__(0, i))
        for i, layer in enumerate(model.model.layers)
    ]

    def pack(tensor: torch.Tensor) -> torch.Tensor:
        storage = tensor.untyped_storage()
        storages.setdefault(storage.data_ptr(), (storage.nbytes(), current[0]))
        return tensor

    try:
        with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
            out = model(tokens, labels=tokens, use_cache=False)
    finally:
        for hook in hooks:
            hook.remove()
    (out.loss if out.aux_loss is None else out.loss + out.aux_loss).backward()
    model.zero_grad(set_to_none=True)
    by_layer = [sum(n for n, owner in storages.values() if owner == i) for i in range(len(model.model.layers))]
    return sum(n for n, _ in storages.values()), by_layer


def memory_rows() -> dict[str, dict[str, int]]:
    """Per model: parameters, their AdamW training state (16 bytes each), the activations held from forward to
    backward, and what recomputation adds while it runs: one layer's activations for checkpointed layers,
    one iteration's for checkpointed iterations (an iteration holds a tenth of an unchecked layer's)."""
    plain_total, plain_layers = saved_bytes(inl_small())
    one_layer = max(plain_layers)
    models = {
        PEER: (GeoForCausalLM(GeoConfig.from_preset(PEER)), 0),
        INTEGRATOR: (inl_small(), 0),
        "+ factorised embeddings": (inl_small(**FACTORISED), 0),
        "+ checkpointed iterations": (
            inl_small(part_options={"ffn": {**preset_ffn(), "checkpoint_iterations": True}}),
            one_layer // preset_ffn()["max_iterations"],
        ),
    }
    layered = inl_small(**FACTORISED)
    layered.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    models["Level 1: factorised embeddings + checkpointed layers"] = (layered, one_layer)
    rows = {}
    for name, (model, recompute) in models.items():
        held, _ = (plain_total, plain_layers) if name == INTEGRATOR else saved_bytes(model)
        parameters = sum(p.numel() for p in model.parameters())
        rows[name] = {
            "parameters": parameters,
            "state": ADAM_BYTES * parameters,
            "activations": held,
            "recompute": recompute,
        }
    return rows


def preset_ffn() -> dict:
    return dict(GeoConfig.from_preset(INTEGRATOR).part_options["ffn"])


def run() -> dict:
    torch.manual_seed(0)
    models = {
        PEER: GeoForCausalLM(GeoConfig.from_preset(PEER)),
        INTEGRATOR: inl_small(),
        NO_HALTING: inl_small(part_options={"ffn": {**preset_ffn(), "tolerance": 0.0}}),
    }
    result = throughput(models, repeats=3, new_tokens=64)
    result["parameters"] = {name: int(parameter_table(m)["parameters"].sum()) for name, m in models.items()}
    train, gen = result["train_tokens_per_s"], result["generate_tokens_per_s"]
    result["train_ratio"] = {name: train[PEER] / train[name] for name in models}
    result["generate_ratio"] = {name: gen[PEER] / gen[name] for name in models}
    result["memory"] = memory_rows()
    options = IntegratorExperiment(seeds=[0], arms=["integrator"], steps=200, heldout_blocks=32)
    with tempfile.TemporaryDirectory() as out:
        trained = run_integrator(options, Path(out), progress=lambda _: None)
    result["sweep"] = trained["runs"][0]["sweep"]
    result["sweep_shape"] = (
        f"hidden {options.hidden_size}, {options.layers} layers, state {options.state_size}, "
        f"{options.steps} steps of {options.batch_size} x {options.block_size} tokens on the reasoning mixture"
    )
    return result


def markdown(result: dict) -> str:
    lines = [
        f"Training: {result['train_shape']}; generation: {result['generate_shape']}. The time ratio is how many "
        f"times longer the row takes than {PEER} (equal parameters). Untrained weights: tokens halt after about "
        "6 of 10 iterations at the preset's tolerance.",
        "",
        "| model | parameters | training tokens/s | time ratio | generation tokens/s | time ratio |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, count in result["parameters"].items():
        lines.append(
            f"| {name} | {count:,} | {result['train_tokens_per_s'][name]:.0f} | {result['train_ratio'][name]:.2f}x | "
            f"{result['generate_tokens_per_s'][name]:.1f} | {result['generate_ratio'][name]:.2f}x |"
        )
    memory = result["memory"]
    base = memory[INTEGRATOR]["state"] + memory[INTEGRATOR]["activations"] + memory[INTEGRATOR]["recompute"]
    lines += [
        "",
        "Memory of a training step (8 x 256 tokens): parameters, gradients and AdamW state at 16 bytes per "
        "parameter; the activations autograd holds from forward to backward (saved-tensor hooks); and what "
        "recomputation holds while it runs under checkpointing. Peak = their sum; share = of inl-small's peak.",
        "",
        "| model | parameters | weights, gradients, AdamW | activations held | recomputation | peak | share |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, row in memory.items():
        total = row["state"] + row["activations"] + row["recompute"]
        mib = {key: row[key] / 2**20 for key in ("state", "activations", "recompute")}
        lines.append(
            f"| {name} | {row['parameters']:,} | {mib['state']:.1f} MiB | {mib['activations']:.1f} MiB | "
            f"{mib['recompute']:.1f} MiB | {total / 2**20:.1f} MiB | {total / base:.0%} |"
        )
    lines += [
        "",
        f"Tolerance at evaluation after training ({result['sweep_shape']}), one seed:",
        "",
        "| tolerance | mean iterations per token | held-out loss |",
        "|---:|---:|---:|",
    ]
    lines += [f"| {r['tolerance']:g} | {r['iterations']:.2f} | {r['heldout_loss']:.4f} |" for r in result["sweep"]]
    return "\n".join(lines)
