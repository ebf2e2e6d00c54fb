"""`geolm convert`: tiny random Llama and Mistral checkpoints, made with transformers' own classes, become
geolm checkpoints with the same logits and the same greedy continuations; what geolm cannot compute is refused."""

from __future__ import annotations

import json
import math
import re
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from clirun import run
from transformers import (
    AutoModelForCausalLM,
    GemmaConfig,
    LlamaConfig,
    LlamaForCausalLM,
    MistralConfig,
    MistralForCausalLM,
    Qwen2Config,
    Qwen2ForCausalLM,
    Qwen3Config,
    Qwen3ForCausalLM,
)

from geolm import GeoForCausalLM
from geolm.convert import convert_checkpoint, llama_to_geo
from geolm.data.tokenizer import train_tokenizer
from geolm.errors import CheckpointError, ConfigError
from geolm.testing import assert_cache_matches_forward, full_forward_greedy

SHAPE = {
    "vocab_size": 300,
    "hidden_size": 64,
    "intermediate_size": 128,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "max_position_embeddings": 128,
}
LLAMA3_ROPE = {
    "rope_type": "llama3",
    "rope_theta": 10000.0,
    "factor": 8.0,
    "low_freq_factor": 1.0,
    "high_freq_factor": 4.0,
    "original_max_position_embeddings": 32,
}
YARN = {"rope_type": "yarn", "rope_theta": 10000.0, "factor": 4.0, "original_max_position_embeddings": 32}
SOURCES = {
    "llama tied": (
        LlamaForCausalLM,
        LlamaConfig(**SHAPE, tie_word_embeddings=True, rope_parameters={"rope_type": "default", "rope_theta": 500.0}),
    ),
    "llama untied, biased": (LlamaForCausalLM, LlamaConfig(**SHAPE, tie_word_embeddings=False, attention_bias=True)),
    "mistral": (MistralForCausalLM, MistralConfig(**SHAPE, sliding_window=None)),
    "qwen2": (Qwen2ForCausalLM, Qwen2Config(**SHAPE, tie_word_embeddings=True)),
    "qwen3": (Qwen3ForCausalLM, Qwen3Config(**SHAPE, head_dim=16)),
    "llama3 scaled rope": (LlamaForCausalLM, LlamaConfig(**SHAPE, rope_parameters=LLAMA3_ROPE)),
    "qwen2 yarn": (Qwen2ForCausalLM, Qwen2Config(**SHAPE, rope_parameters=YARN)),
}


@pytest.fixture(scope="module")
def tokenizer():
    return train_tokenizer(["a heron is a wading bird with long legs"] * 20, vocab_size=300, min_frequency=1)


def source_checkpoint(directory: Path, kind: str, tokenizer=None) -> Path:
    """A randomly initialised source model (norm scales too), saved in shards of a few kilobytes."""
    model_class, config = SOURCES[kind]
    torch.manual_seed(0)
    model = model_class(config)
    with torch.no_grad():
        for param in model.parameters():
            param.add_(torch.randn_like(param) * 0.05)
    model.save_pretrained(directory, max_shard_size="100KB")
    if tokenizer is not None:
        tokenizer.save_pretrained(directory)
    return directory


@pytest.mark.parametrize("kind", list(SOURCES))
def test_a_converted_model_computes_what_its_source_does(kind: str, tokenizer, tmp_path: Path) -> None:
    source = source_checkpoint(tmp_path / "source", kind, tokenizer)
    assert (source / "model.safetensors.index.json").is_file()  # sharded
    convert_checkpoint(source, tmp_path / "geolm")
    hf = AutoModelForCausalLM.from_pretrained(source).eval()
    geo = GeoForCausalLM.from_pretrained(tmp_path / "geolm").eval()
    assert geo.config.tie_word_embeddings == hf.config.tie_word_embeddings
    direct = llama_to_geo(hf)  # built on the meta device, given the source's very tensors
    assert direct.model.embed_tokens.weight.data_ptr() == hf.model.embed_tokens.weight.data_ptr()
    assert (direct.lm_head.weight is direct.model.embed_tokens.weight) == hf.config.tie_word_embeddings
    tokens = torch.randint(0, 300, (2, 40), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        theirs, ours = hf(tokens).logits, geo(tokens).logits
    assert theirs.abs().max() > 0.5  # a real signal
    torch.testing.assert_close(ours, theirs, atol=1e-4, rtol=0)
    prompt = tokens[0, :6].tolist()
    expected = hf.generate(torch.tensor([prompt]), do_sample=False, max_new_tokens=10, min_new_tokens=10)
    assert full_forward_greedy(geo, prompt, 10) == expected[0, 6:].tolist()  # the source's own greedy decoding
    assert_cache_matches_forward(geo)
    assert (tmp_path / "geolm" / "tokenizer.json").is_file()
    assert json.loads((tmp_path / "geolm" / "config.json").read_text())["model_type"] == "geolm"


def test_what_geolm_cannot_compute_is_refused_by_name(tmp_path: Path) -> None:
    def refused(config, match: str) -> None:
        directory = tmp_path / f"source-{len(list(tmp_path.iterdir()))}"
        config.save_pretrained(directory)
        with pytest.raises(ConfigError, match=match):
            convert_checkpoint(directory, tmp_path / "out")
        assert not (tmp_path / "out").exists()

    refused(LlamaConfig(**SHAPE, mlp_bias=True), "LlamaForCausalLM: config field 'mlp_bias' is True")
    refused(LlamaConfig(**SHAPE, hidden_act="gelu"), "config field 'hidden_act' is 'gelu'; geolm's feed-forward")
    dynamic = {"rope_type": "dynamic", "factor": 2.0, "rope_theta": 10000.0}
    refused(
        LlamaConfig(**SHAPE, rope_parameters=dynamic), "'rope_parameters' .* whose frequencies change with the length"
    )
    refused(MistralConfig(**SHAPE, sliding_window=16), "'sliding_window' is 16; geolm attends over the whole context")
    refused(LlamaConfig(**SHAPE, router_jitter=0.1), "config field 'router_jitter' has no geolm equivalent")
    refused(Qwen2Config(**SHAPE, use_sliding_window=True), "'use_sliding_window' is True; geolm attends over")
    refused(GemmaConfig(**SHAPE), "GemmaForCausalLM: an architecture geolm has no conversion for")


def test_bad_places_are_named_and_nothing_is_overwritten(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match=r"no config\.json"):
        convert_checkpoint(tmp_path, tmp_path / "out")
    LlamaConfig(**SHAPE).save_pretrained(tmp_path / "weightless")
    with pytest.raises(CheckpointError, match=r"weightless: no \*\.safetensors weights"):
        convert_checkpoint(tmp_path / "weightless", tmp_path / "out")
    source = source_checkpoint(tmp_path / "source", "llama untied, biased")
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "keep.txt").write_text("mine")
    with pytest.raises(ConfigError, match="already exists and is not an empty directory"):
        convert_checkpoint(source, taken)
    assert [p.name for p in taken.iterdir()] == ["keep.txt"]


def test_geolm_convert_on_the_command_line(tmp_path: Path) -> None:
    source = source_checkpoint(tmp_path / "source", "mistral")
    done = run("convert", str(source), "--out", str(tmp_path / "geolm"))
    assert done.returncode == 0, done.stderr
    assert f"wrote {tmp_path / 'geolm'}" in done.stdout
    again = run("convert", str(source), "--out", str(tmp_path / "geolm"))
    assert again.returncode == 2 and again.stderr.strip().count("\n") == 0 and "already exists" in again.stderr


def test_a_converted_checkpoint_starts_a_training_run(tokenizer, tmp_path: Path, capsys) -> None:
    from safetensors.torch import load_file

    from geolm import api

    unpadded = train_tokenizer(["a heron is a wading bird with long legs"] * 20, vocab_size=300, min_frequency=1)
    unpadded.pad_token = None  # as many released tokenizers have it
    source = source_checkpoint(tmp_path / "source", "qwen3", unpadded)
    convert_checkpoint(source, tmp_path / "geolm")
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("a heron is a wading bird with long legs\n" * 60)
    args = api.TrainArgs(steps=2, batch_size=2, lr=1e-12, eval_every=0, save_every=0, log_every=1, warmup_steps=0)
    spec = api.RunSpec(data=(corpus,), init_from=tmp_path / "geolm", out=tmp_path / "run", block_size=16, args=args)
    api.train(spec)
    assert "has no padding token; padding with" in capsys.readouterr().err
    start, trained = (load_file(path / "model.safetensors") for path in (tmp_path / "geolm", tmp_path / "run" / "last"))
    assert start.keys() == trained.keys() and any(name.endswith("q_norm.weight") for name in start)
    for name, value in start.items():
        torch.testing.assert_close(trained[name], value, atol=1e-6, rtol=0)  # it trained from these weights
    with pytest.raises(ConfigError, match="brings its own config and tokenizer; drop --vocab-size"):
        api.prepare(api.RunSpec(init_from=tmp_path / "geolm", vocab_size=300, out=tmp_path / "other"))


# Per family, the parameters that start at zero and that training must move: the coordinates' terms, κ of
# every head, the router.
MOVED = {
    "coordinate": r"^model\.modulation\..*\.up$",
    "curvature": r"self_attn\.raw_kappa$",
    "experts": r"mlp\.gate\.weight$",
    "integrator": r"mlp\.branch_gain$",
}


ALONE_AND_TOGETHER = [["coordinate"], ["curvature"], ["experts"], ["integrator"], ["coordinate", "curvature"]]


@pytest.mark.parametrize("parts", [*ALONE_AND_TOGETHER, ["experts", "coordinate"]])
def test_geometry_added_at_identity_then_moved_by_training(parts: list[str], tokenizer, tmp_path: Path) -> None:
    from geolm import api

    source = source_checkpoint(tmp_path / "source", "llama untied, biased", tokenizer)
    convert_checkpoint(source, tmp_path / "geolm", parts=parts)
    hf = AutoModelForCausalLM.from_pretrained(source).eval()
    geo = GeoForCausalLM.from_pretrained(tmp_path / "geolm").eval()
    assert (geo.config.modulation == "coordinate") == ("coordinate" in parts)
    assert (geo.config.attention == "curvature") == ("curvature" in parts)
    assert (geo.config.ffn == "geometric_moe") == ("experts" in parts)
    params = {name: p.detach() for name, p in geo.named_parameters()}
    assert all(torch.isfinite(value).all() for value in params.values())  # made, not left uninitialised
    starting = {part: {n: v for n, v in params.items() if re.search(MOVED[part], n)} for part in parts}
    for part in parts:
        assert starting[part] and all(float(v.abs().max()) == 0 for v in starting[part].values()), part
    if "coordinate" in parts:
        assert float(params["model.modulation.directions"].std()) == pytest.approx(1.0, abs=0.3)
    if "experts" in parts:  # every expert a copy of the dense feed-forward, scaled for its √D input and output
        scale = math.sqrt(hf.config.hidden_size)
        for i, layer in enumerate(hf.model.layers):
            for group in geo.model.layers[i].mlp.groups:
                torch.testing.assert_close(group.up[0], layer.mlp.gate_proj.weight * scale)
                torch.testing.assert_close(group.value[0], layer.mlp.up_proj.weight * scale)
                torch.testing.assert_close(group.down[0], layer.mlp.down_proj.weight / scale)
        assert float(geo.model.layers[0].memory.o_weight.detach().abs().max()) == 0  # the memory adds nothing yet
    if "integrator" in parts:  # the dense feed-forward kept as it was, beside the integrator
        assert torch.equal(geo.model.layers[1].mlp.dense.down_proj.weight, hf.model.layers[1].mlp.down_proj.weight)
    tokens = torch.randint(0, 300, (2, 40), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        torch.testing.assert_close(geo(tokens).logits, hf(tokens).logits, atol=1e-4, rtol=0)
    prompt = tokens[0, :6].tolist()
    expected = hf.generate(torch.tensor([prompt]), do_sample=False, max_new_tokens=10, min_new_tokens=10)
    assert full_forward_greedy(geo, prompt, 10) == expected[0, 6:].tolist()
    assert_cache_matches_forward(geo)

    corpus = tmp_path / "corpus.txt"
    corpus.write_text("a heron is a wading bird with long legs\n" * 60)
    args = api.TrainArgs(steps=20, batch_size=2, lr=1e-3, eval_every=0, save_every=0, log_every=1)
    api.train(api.RunSpec(data=(corpus,), init_from=tmp_path / "geolm", out=tmp_path / "run", block_size=16, args=args))
    trained = {n: p.detach() for n, p in GeoForCausalLM.from_pretrained(tmp_path / "run" / "last").named_parameters()}
    for part in parts:
        assert all(float(trained[name].abs().max()) > 0 for name in starting[part]), part
    if "experts" in parts:  # the curved experts' curvature moves from its start too
        kappas = [name for name in params if re.search(r"mlp\.groups\.\d\.raw_kappa$", name)]
        assert kappas and all(not torch.equal(trained[name], params[name]) for name in kappas)
    with pytest.raises(ConfigError, match="--parts mixes: families that start at identity are curvature, experts, "):
        convert_checkpoint(source, tmp_path / "other", parts=["mixes"])
    with pytest.raises(ConfigError, match="integrator layers join a dense SwiGLU feed-forward; this model's is 'geo"):
        convert_checkpoint(source, tmp_path / "other", parts=["experts", "integrator"])


def test_uptrain_trains_the_added_parts_first_then_everything(tokenizer, tmp_path: Path) -> None:
    from safetensors.torch import load_file

    from geolm import api

    source = source_checkpoint(tmp_path / "source", "qwen2", tokenizer)
    convert_checkpoint(source, tmp_path / "geolm", parts=["coordinate"])
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("a heron is a wading bird with long legs\n" * 60)
    args = api.TrainArgs(steps=6, batch_size=2, lr=1e-3, eval_every=0, save_every=0, log_every=1, warmup_steps=0)
    options = {"geometry_share": 0.5, "base_lr_mult": 0.5}
    spec = api.RunSpec(
        data=(corpus,),
        init_from=tmp_path / "geolm",
        out=tmp_path / "run",
        block_size=16,
        args=args,
        recipe="uptrain",
        recipe_options=options,
    )
    api.train(spec)
    start = load_file(tmp_path / "geolm" / "model.safetensors")
    geometry_done = load_file(tmp_path / "run" / "phase-0-geometry" / "model.safetensors")
    end = load_file(tmp_path / "run" / "last" / "model.safetensors")
    base = [name for name in start if not name.startswith("model.modulation.")]
    added = [name for name in start if name.endswith(".up")]
    assert base and added
    assert all(torch.equal(geometry_done[name], start[name]) for name in base)  # frozen while the geometry learnt
    assert all(not torch.equal(geometry_done[name], start[name]) for name in added)
    assert all(
        not torch.equal(end[name], geometry_done[name])
        for name in ("model.embed_tokens.weight", "model.layers.0.mlp.down_proj.weight")
    )
    with pytest.raises(ConfigError, match="freezes every parameter of the model, so nothing would train"):
        plain = tmp_path / "plain"
        convert_checkpoint(source, plain)
        api.train(replace(spec, init_from=plain, out=tmp_path / "plain-run"))


def test_the_uptrain_experiment_compares_each_conversion_with_a_plain_fine_tune(tmp_path: Path) -> None:
    from geolm.experiments.uptrain import UptrainExperiment, run_uptrain

    tokenizer = train_tokenizer(["a heron is a wading bird with long legs"] * 20, vocab_size=300, min_frequency=1)
    source = source_checkpoint(tmp_path / "base", "llama untied, biased", tokenizer)
    options = UptrainExperiment.quick(source, arms=["fine-tune", "coordinate,curvature"], eval_limit=2)
    results = run_uptrain(options, tmp_path / "out", progress=lambda arm: None)
    assert [arm["arm"] for arm in results["runs"]] == ["base, not trained", "fine-tune", "coordinate,curvature"]
    for arm in results["runs"]:
        assert arm["heldout_loss"] > 0 and arm["wordnet"]  # scored on the held-out split and the WordNet tasks
    report = (tmp_path / "out" / "report.md").read_text()
    assert "| fine-tune |" in report and "| coordinate,curvature |" in report
    converted = GeoForCausalLM.from_pretrained(tmp_path / "out" / "converted" / "coordinate+curvature")
    assert converted.config.attention == "curvature" and converted.config.modulation == "coordinate"
    with pytest.raises(ConfigError, match="already holds uptrain runs"):
        run_uptrain(options, tmp_path / "out", progress=lambda arm: None)


CHATML = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def test_chat_serve_and_eval_on_a_converted_checkpoint_with_its_own_template(tmp_path: Path) -> None:
    """A source tokenizer with its own chat template and end-of-turn token (ChatML, as Qwen's), none of geolm's."""
    foreign = train_tokenizer(["a heron is a wading bird with long legs"] * 20, vocab_size=290, min_frequency=1)
    foreign.add_special_tokens({"additional_special_tokens": ["<|im_start|>", "<|im_end|>"], "eos_token": "<|im_end|>"})
    foreign.chat_template = CHATML
    source = source_checkpoint(tmp_path / "source", "qwen3", foreign)
    convert_checkpoint(source, tmp_path / "geolm")
    done = run(
        "chat",
        str(tmp_path / "geolm"),
        "--greedy",
        "--repetition-penalty",
        "1.0",
        "--max-new-tokens",
        "8",
        "--device",
        "cpu",
        stdin="What is a heron?\n/exit\n",
    )
    assert done.returncode == 0, done.stderr
    geo = GeoForCausalLM.from_pretrained(tmp_path / "geolm").eval()
    messages = [{"role": "user", "content": "What is a heron?"}]
    text = foreign.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    assert text.endswith("<|im_start|>assistant\n")  # the source's own layout
    prompt = foreign(text, add_special_tokens=False).input_ids
    expected = full_forward_greedy(geo, prompt, 8, end_ids=(foreign.eos_token_id,))
    reply = foreign.decode(expected, skip_special_tokens=True).strip()
    assert reply and reply in done.stdout
    from fastapi.testclient import TestClient

    from geolm.serving.endpoint import build_app

    with TestClient(build_app(tmp_path / "geolm", device="cpu")) as http:  # the server, through the same template
        body = {"model": str(tmp_path / "geolm"), "messages": messages, "max_tokens": 8, "temperature": 0}
        answer = http.post("/v1/chat/completions", json=body)
    assert answer.status_code == 200, answer.text
    assert answer.json()["choices"][0]["message"]["content"].strip() == reply
    from geolm import api
    from geolm.experiments.wordnet_tasks import TAG

    scores = api.evaluate(geo, foreign, [TAG], tmp_path / "eval", limit=2)  # lm-eval through the source's tokenizer
    assert any(task.startswith("wordnet_") for task in scores["results"])
