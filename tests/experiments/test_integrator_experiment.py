"""`geolm experiment integrator --quick`: the arms are equal in parameters, every arm trains, and the report
holds the tolerance sweep and the generation timing."""

import json
import math

import torch

from geolm import GeoForCausalLM
from geolm.experiments.integrator import ARMS, IntegratorExperiment, arm_config, run_integrator


class Tok:  # what arm_config reads of a tokenizer
    pad_token_id, bos_token_id, eos_token_id = 0, 1, 2

    def __len__(self) -> int:
        return 300


def test_the_llama_arm_has_the_integrators_parameters() -> None:
    options = IntegratorExperiment()
    counts = {}
    for arm in ("llama", "integrator"):
        with torch.device("meta"):
            model = GeoForCausalLM(arm_config(arm, options, Tok()))
        counts[arm] = sum(p.numel() for p in model.parameters())
    assert abs(counts["llama"] / counts["integrator"] - 1) < 0.005
    halting = {arm: arm_config(arm, options, Tok()).part_options["ffn"]["halting"] for arm in ARMS[1:]}
    assert halting == {"integrator": "residual", "learned halting": "learned", "fixed": "fixed"}


def test_quick_run_trains_every_arm_and_writes_the_report(tmp_path) -> None:
    options = IntegratorExperiment.quick(steps=3)
    results = run_integrator(options, tmp_path, progress=lambda _: None)
    assert [r["arm"] for r in results["runs"]] == list(ARMS)
    for run in results["runs"]:
        assert 0 < run["heldout_loss"] < math.log(400) + 0.5
        assert run["generate_tokens_per_s"] > 0
        if run["arm"] != "llama":
            assert 1 <= run["iterations"] <= options.max_iterations
    fixed = next(r for r in results["runs"] if r["arm"] == "fixed")
    assert fixed["iterations"] == options.max_iterations
    sweep = next(r for r in results["runs"] if r["arm"] == "integrator")["sweep"]
    assert [row["tolerance"] for row in sweep] == options.sweep
    assert sweep[0]["iterations"] == options.max_iterations  # tolerance 0 never stops early
    assert json.loads((tmp_path / "results.json").read_text())["summary"].keys() == set(ARMS)
    report = (tmp_path / "report.md").read_text()
    assert "| learned halting |" in report and "| tolerance |" in report and "every token running all" in report
