import json

from geolm.training.metrics import plot_losses, read_records, truncate_records


def test_truncation_keeps_records_up_to_the_step_and_drops_a_torn_line(tmp_path):
    path = tmp_path / "metrics.jsonl"
    lines = [json.dumps({"step": s, "loss": 5.0 - s}) for s in range(1, 6)]
    path.write_text("\n".join(lines) + '\n{"step": 6, "lo')
    truncate_records(path, 3)
    assert read_records(path) == [{"step": s, "loss": 5.0 - s} for s in (1, 2, 3)]


def test_plot_draws_train_val_and_phases(tmp_path):
    rows = [{"step": 0, "event": "phase", "phase": "a", "index": 0}]
    rows += [{"step": s, "loss": 6.0 - 0.1 * s} for s in range(1, 11)]
    rows += [{"step": 5, "val_loss": 5.6, "val_ppl": 270.4}, {"step": 5, "event": "phase", "phase": "b", "index": 1}]
    (tmp_path / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = plot_losses(tmp_path)
    assert out == tmp_path / "loss.png" and out.read_bytes()[:4] == b"\x89PNG"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["loss.png", "metrics.jsonl"]


def test_a_quiet_run_leaves_the_console_to_its_caller(tmp_path, capsys):
    """Inside a caller's own live progress display (an experiment suite's), a quiet run shows nothing and
    still writes every record."""
    import json

    from rich.progress import Progress
    from trainkit import random_blocks, tiny_model

    from geolm.training import TrainArgs, train

    args = TrainArgs(steps=3, batch_size=2, eval_every=0, save_every=0, log_every=1, quiet=True)
    with Progress() as outer:
        outer.add_task("suite", total=1)
        train(tiny_model(), random_blocks(8), None, args, tmp_path / "run")
    said = capsys.readouterr()
    assert "phase 0" not in said.err and "tok/s" not in said.err
    records = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records if "loss" in r and "event" not in r] == [1, 2, 3]
