"""geolm's baseline Llama against HF `LlamaForCausalLM`: same config, same weights, same process."""

from __future__ import annotations

import torch
from transformers import LlamaForCausalLM

from benchmarks.common import interleaved, matmul_peak_flops
from geolm import GeoConfig, GeoForCausalLM
from geolm.convert import to_llama_config


def flops_per_token(config: GeoConfig, params: int, seq_len: int) -> float:
    """Training FLOPs per token, 6N + 12·L·H·Q·T (N counts every matmul weight, the output projection too)."""
    return 6 * params + 12 * config.num_hidden_layers * config.num_attention_heads * config.head_dim * seq_len


def run(preset: str = "llama-10m", batch: int = 8, seq_len: int = 256, repeats: int = 5) -> dict:
    """Training and cached-generation tokens/s of both models, their ratios and geolm's MFU."""
    torch.manual_seed(0)
    config = GeoConfig.from_preset(preset)
    geo = GeoForCausalLM(config)
    hf = LlamaForCausalLM._from_config(to_llama_config(config), attn_implementation="sdpa")
    hf.load_state_dict(geo.state_dict())
    tokens = torch.randint(3, config.vocab_size, (batch, seq_len))

    def train_step(model: torch.nn.Module, optimizer: torch.optim.Optimizer):
        def step() -> None:
            model.train()
            optimizer.zero_grad(set_to_none=True)
            model(tokens, labels=tokens).loss.backward()
            optimizer.step()

        return step

    steps = {
        "geolm": train_step(geo, torch.optim.AdamW(geo.parameters(), lr=1e-4)),
        "hf": train_step(hf, torch.optim.AdamW(hf.parameters(), lr=1e-4)),
    }
    train_seconds = interleaved(steps, repeats=repeats)
    prompt = tokens[:1, :32]
    new_tokens = 128

    def generate(model: torch.nn.Module):
        def call() -> None:
            with torch.no_grad():
                model.eval().generate(
                    prompt, max_new_tokens=new_tokens, min_new_tokens=new_tokens, do_sample=False, pad_token_id=0
                )

        return call

    gen_seconds = interleaved({"geolm": generate(geo), "hf": generate(hf)}, repeats=repeats)
    params = sum(p.numel() for p in geo.parameters())
    peak = matmul_peak_flops()
    train_tps = {k: batch * seq_len / v for k, v in train_seconds.items()}
    gen_tps = {k: new_tokens / v for k, v in gen_seconds.items()}
    mfu = train_tps["geolm"] * flops_per_token(config, params, seq_len) / peak
    return {
        "preset": preset,
        "parameters": params,
        "train_shape": f"batch {batch} x {seq_len} tokens, forward+backward+AdamW",
        "generate_shape": f"batch 1, prompt 32, {new_tokens} new tokens, greedy, KV cache",
        "train_tokens_per_s": train_tps,
        "generate_tokens_per_s": gen_tps,
        "train_ratio_geolm_over_hf": train_tps["geolm"] / train_tps["hf"],
        "generate_ratio_geolm_over_hf": gen_tps["geolm"] / gen_tps["hf"],
        "matmul_peak_gflops": peak / 1e9,
        "geolm_train_mfu": mfu,
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
