"""The cost-growth benchmark runs end to end at toy sizes: every family at every point, ratios to llama (the
peak memory stubbed: the leaderboard's tests check that measurement)."""

from __future__ import annotations

from benchmarks import scaling_bench

from geolm.experiments.leaderboard import FAMILIES


def test_scaling_bench_measures_every_family_at_every_point(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(scaling_bench, "LENGTHS", (16, 32))
    monkeypatch.setattr(scaling_bench, "LONGEST", {scaling_bench.REFERENCE: 16, "mgm": 16})
    monkeypatch.setattr(scaling_bench, "WIDTHS", (64,))
    monkeypatch.setattr(scaling_bench, "WIDEST", {"inl": 32})
    monkeypatch.setattr(scaling_bench, "BASE_WIDTH", 32)
    monkeypatch.setattr(scaling_bench, "BASE_LENGTH", 16)
    monkeypatch.setattr(scaling_bench, "STEP_TOKENS", 64)
    monkeypatch.setattr(scaling_bench, "REPEATS", 1)
    monkeypatch.setattr(scaling_bench, "PLOT", tmp_path / "scaling.png")
    # the profiler's per-operator memory count is tested by the leaderboard's tests; here it would take a minute
    monkeypatch.setattr(scaling_bench, "peak_training_memory", lambda model, tokens: 2**20)
    # compiling takes a minute a model; the compiled step itself is what `geolm train --compile` runs (tested)
    monkeypatch.setattr(scaling_bench, "measure_compiled", lambda length: {"llama": 100.0, "curvature": 50.0})
    result = scaling_bench.run()
    assert list(result["lengths"]) == [16, 32] and list(result["widths"]) == [64]
    every = [*FAMILIES, scaling_bench.REFERENCE]
    assert list(result["lengths"][16]) == every
    assert list(result["widths"][64]) == [name for name in every if name != "inl"]
    assert list(result["lengths"][32]) == [name for name in every if name not in scaling_bench.LONGEST]
    for points in (result["lengths"], result["widths"]):
        for row in points.values():
            assert all(v["tokens_per_s"] > 0 and v["peak_mib"] > 0 for v in row.values())
    table = scaling_bench.markdown(result)
    assert "| llama | " in table and "(1.00x)" in table and "| geo-mix-moe | " in table
    assert "| mgm | " in table and "not run" in table and "compiled ≤ 1.5x: not met at 16 (2.00x), 32 (2.00x)" in table
    assert "inl past width 32" in table
    assert (tmp_path / "scaling.png").read_bytes()[:4] == b"\x89PNG"
