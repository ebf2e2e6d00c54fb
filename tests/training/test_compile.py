"""`--compile`: torch.compile in training (through accelerate) and generation gives the eager numbers."""

import warnings

import pytest
import torch
from torch._dynamo.utils import counters
from trainkit import random_blocks, tiny_args, tiny_model

import geolm.compiling as compiling
from geolm.errors import ConfigError
from geolm.testing import full_forward_greedy
from geolm.training import train


@pytest.mark.slow
def test_compiled_training_matches_eager(tmp_path, monkeypatch):
    compiled = []
    real_compile = torch.compile
    monkeypatch.setattr(torch, "compile", lambda model, **kw: compiled.append(type(model)) or real_compile(model, **kw))
    data = random_blocks(32)
    eager = train(tiny_model(), data, None, tiny_args(steps=3), tmp_path / "eager")
    assert compiled == []
    fast = train(tiny_model(), data, None, tiny_args(steps=3, compile=True), tmp_path / "compiled")
    assert compiled and compiled[0].__name__ == "GeoForCausalLM"  # accelerate compiled the model itself
    assert all(fast.losses[s] == pytest.approx(eager.losses[s], abs=1e-4) for s in eager.losses)
    assert (tmp_path / "compiled" / "last" / "model.safetensors").is_file()  # saved unwrapped, loadable


@pytest.mark.slow
def test_compiled_generation_gives_the_eager_greedy_tokens():
    model = compiling.compile_for_generation(tiny_model().eval())
    prompt = torch.randint(3, 512, (1, 6))
    breaks = sum(counters["graph_break"].values())
    with torch.no_grad():
        out = model.generate(prompt, max_new_tokens=8, do_sample=False, eos_token_id=None, pad_token_id=0)
    assert sum(counters["graph_break"].values()) == breaks  # one graph per step, none split at attention
    assert out[0, 6:].tolist() == full_forward_greedy(model, prompt[0].tolist(), 8)


def test_compile_without_a_cxx_compiler_is_refused_up_front(tmp_path, monkeypatch):
    monkeypatch.setattr(compiling.shutil, "which", lambda name: None)
    with pytest.raises(ConfigError, match=r"--compile: on the CPU, torch\.compile needs a C\+\+ compiler"):
        train(tiny_model(), random_blocks(8), None, tiny_args(steps=1, compile=True), tmp_path)
    assert not (tmp_path / "last").exists()


def test_a_compiler_failure_falls_back_to_the_eager_step(monkeypatch) -> None:
    def broken(step, **_):
        def fail(*args):
            raise RuntimeError("the compiler broke")

        return fail

    monkeypatch.setattr(torch, "compile", broken)

    def double(x: torch.Tensor) -> torch.Tensor:
        return 2 * x

    step = compiling.compiled.__wrapped__(double)
    with pytest.warns(UserWarning, match="compiling double failed.*the compiler broke"):
        assert step(torch.ones(2)).tolist() == [2.0, 2.0]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # it warns once, then runs eagerly
        assert step(torch.ones(1)).tolist() == [2.0]


@pytest.mark.slow
def test_a_compiled_step_may_compile_more_variants_than_dynamos_default_limit() -> None:
    def triple(x: torch.Tensor) -> torch.Tensor:
        return 3 * x

    step, graphs = compiling.compiled.__wrapped__(triple), counters["stats"]["unique_graphs"]
    for rank in range(1, 10):  # nine ranks: nine variants, one more than dynamo's default of 8
        assert step(torch.ones((2,) * rank)).sum() == 3 * 2**rank
    assert counters["stats"]["unique_graphs"] - graphs == 9
