"""geolm's baseline Llama against HF `LlamaForCausalLM`: same config, same weights, same process."""

from __future__ import annotations

import torch
from transformers import LlamaForCausalLM

from benchmarks.common import matmul_peak_flops, throughput
from geolm import GeoConfig, GeoForCausalLM
from geolm.convert import to_llama_config


def flops_per_token(config: GeoConfig, params: int, seq_len: int) -> float:
    """Training FLOPs per token, 6N + 12·L·H·Q·T (N counts every matmul weight, the output projection too)."""
    return 6 * params + 12 * config.num_hidden_layers * config.num_attention_heads * config.head_dim * seq_len


def run(preset: str = "llama-10m", seq_len: int = 256) -> dict:
    """Training and cached-generation tokens/s of both models, their ratios and geolm's MFU."""
    torch.manual_seed(0)
    config = GeoConfig.from_preset(preset)
    geo = GeoForCausalLM(config)
    hf = LlamaForCausalLM._from_config(to_llama_config(config), attn_implementation="sdpa")
    hf.load_state_dict(geo.state_dict())
    result = throughput({"geolm": geo, "hf": hf}, seq_len=seq_len)
    params = sum(p.numel() for p in geo.parameters())
    peak = matmul_peak_flops()
    train, gen = result["train_tokens_per_s"], result["generate_tokens_per_s"]
    return {
        **result,
        "preset": preset,
        "parameters": params,
        "train_ratio_geolm_over_hf": train["geolm"] / train["hf"],
        "generate_ratio_geolm_over_hf": gen["geolm"] / gen["hf"],
        "matmul_peak_gflops": peak / 1e9,
        "geolm_train_mfu": train["geolm"] * flops_per_token(config, params, seq_len) / peak,
    }


def markdown(result: dict) -> str:
    """The section of docs/benchmarks.md for these numbers."""
    t, g = result["train_tokens_per_s"], result["generate_tokens_per_s"]
    return "\n".join(
        [
            f"Preset `{result['preset']}` ({result['parameters']:,} parameters), identical config and weights.",
            "",
            "| measure | geolm | HF Llama | geolm / HF |",
            "|---|---:|---:|---:|",
            f"| training tokens/s ({result['train_shape']}) | {t['geolm']:.0f} | {t['hf']:.0f} | "
            f"{result['train_ratio_geolm_over_hf']:.3f}x |",
            f"| generation tokens/s ({result['generate_shape']}) | {g['geolm']:.1f} | {g['hf']:.1f} | "
            f"{result['generate_ratio_geolm_over_hf']:.3f}x |",
            "",
            f"Model FLOP utilisation of geolm training: {result['geolm_train_mfu']:.1%} of a measured "
            f"{result['matmul_peak_gflops']:.1f} GFLOP/s float32 matmul peak (FLOPs per token 6N + 12·L·H·Q·T).",
        ]
    )
