"""`geolm experiment mixture --quick`: every arm trains on the same data, and the report says what it measured."""

import json
import math

from geolm.experiments.mixture import ARMS, MixtureOptions, arm_config, run_mixture


def test_the_arms_match_in_shape_and_active_expert_weights() -> None:
    class Tok:  # what arm_config reads of a tokenizer
        pad_token_id, bos_token_id, eos_token_id = 0, 1, 2

        def __len__(self) -> int:
            return 300

    options = MixtureOptions.quick()
    configs = {arm: arm_config(arm, options, Tok()) for arm in ARMS}
    assert {c.hidden_size for c in configs.values()} == {options.hidden_size}
    mixed, euclidean = configs["mixed"].part_options["ffn"], configs["euclidean"].part_options["ffn"]
    assert len(mixed["geometries"]) * mixed["experts_per_geometry"] == euclidean["experts_per_geometry"] == 7
    # the dense SwiGLU's three matrices hold what the k chosen two-matrix experts hold, to rounding
    assert abs(configs["dense"].intermediate_size * 3 - 2 * options.top_k * options.expert_size) <= 1.5


def test_quick_run_trains_every_arm_and_writes_the_report(tmp_path) -> None:
    results = run_mixture(MixtureOptions.quick(steps=4), tmp_path, progress=lambda _: None)
    assert [r["arm"] for r in results["runs"]] == list(ARMS)
    for run in results["runs"]:
        assert 0 < run["heldout_loss"] < math.log(400) + 0.5  # trained a little from ln(vocab)
    assert "geometry_routing" in results["runs"][0] and "geometry_routing" not in results["runs"][1]
    assert json.loads((tmp_path / "results.json").read_text())["summary"].keys() == set(ARMS)
    report = (tmp_path / "report.md").read_text()
    assert "| mixed |" in report and "| dense |" in report and "category explains" in report
