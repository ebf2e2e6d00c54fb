"""The integrator's iterations under torch.compile: the whole model, loop included, is one graph that later
steps reuse, and it computes what the eager model computes."""

from __future__ import annotations

import torch
from torch._dynamo.utils import counters

from geolm import GeoConfig, GeoForCausalLM


def test_the_iteration_loop_compiles_into_one_graph_that_every_step_reuses() -> None:
    torch.manual_seed(0)
    options = {"ffn": {"max_iterations": 4, "min_iterations": 1}}
    eager = GeoForCausalLM(GeoConfig.from_preset("inl-tiny", part_options=options)).train()
    twin = GeoForCausalLM(GeoConfig.from_preset("inl-tiny", part_options=options)).train()
    twin.load_state_dict(eager.state_dict())
    torch._dynamo.reset()
    compiled = torch.compile(twin, fullgraph=True)  # fails on any graph break, the loop's halting included
    before = counters["stats"]["unique_graphs"]
    for seed in range(3):
        ids = torch.randint(3, 512, (2, 16), generator=torch.Generator().manual_seed(seed))
        expected, got = eager(ids, labels=ids), compiled(ids, labels=ids)
        torch.testing.assert_close(got.loss, expected.loss, atol=1e-5, rtol=1e-5)
        expected.loss.backward()
        got.loss.backward()
        assert counters["stats"]["unique_graphs"] - before == 1  # compiled at the first step, reused after
    for (name, a), b in zip(eager.named_parameters(), twin.parameters(), strict=True):
        torch.testing.assert_close(b.grad, a.grad, atol=1e-4, rtol=1e-3, msg=name)
