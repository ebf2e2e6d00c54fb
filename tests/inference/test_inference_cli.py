"""`geolm generate` and `geolm chat` through a local typer app (and once through the real entry point)."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from clirun import GEOLM
from typer.testing import CliRunner

import geolm.cli.main as cli_main
from geolm.cli.chat import chat
from geolm.cli.generate import generate
from geolm.errors import CheckpointError, InputError
from geolm.inference import ResponseGenerator, SamplingOptions, encode_prompt, generate_text, render_chat

app = typer.Typer()
app.command("generate")(generate)
app.command("chat")(chat)
runner = CliRunner()
GREEDY = ["--greedy", "--repetition-penalty", "1.0", "--max-new-tokens", "20", "--device", "cpu"]
GREEDY_OPTIONS = SamplingOptions(max_new_tokens=20, greedy=True, repetition_penalty=1.0)


def test_generate_prints_the_greedy_continuation(checkpoint: Path, loaded) -> None:
    model, tok = loaded
    expected = generate_text(model, tok, encode_prompt(tok, "A cat is"), GREEDY_OPTIONS).text
    result = runner.invoke(app, ["generate", str(checkpoint), "--prompt", "A cat is", *GREEDY])
    assert result.exit_code == 0, result.output
    assert result.stdout == "A cat is" + expected + "\n"  # the prompt, then its continuation
    bare = runner.invoke(app, ["generate", str(checkpoint), "--prompt", "A cat is", "--no-echo", *GREEDY])
    assert bare.stdout == expected + "\n"


def test_generate_chat_and_stop(checkpoint: Path, loaded) -> None:
    model, tok = loaded
    prompt = render_chat(tok, [{"role": "user", "content": "hello"}], add_generation_prompt=True)
    full = generate_text(model, tok, prompt, GREEDY_OPTIONS, extra_eos_ids=[7, 5, 4]).text
    result = runner.invoke(app, ["generate", str(checkpoint), "--prompt", "hello", "--chat", *GREEDY])
    assert result.stdout == full + "\n"
    stop = next(full[i : i + 2] for i in range(3, len(full)) if full[i : i + 2].isascii() and full[i].isalpha())
    args = ["generate", str(checkpoint), "--prompt", "hello", "--chat", "--stop", stop, *GREEDY]
    stopped = runner.invoke(app, args)
    assert stopped.stdout == full[: full.find(stop)] + "\n"


def test_generate_prompt_too_long(checkpoint: Path) -> None:
    args = ["generate", str(checkpoint), "--prompt", "the cat sat " * 100, "--max-new-tokens", "64"]
    result = runner.invoke(app, args)
    assert isinstance(result.exception, InputError)
    assert "tokens but at most 192 fit (context 256 minus max_new_tokens 64)" in str(result.exception)
    assert result.stdout == ""


def test_entry_point_turns_errors_into_one_line(checkpoint: Path, monkeypatch, capsys) -> None:
    monkeypatch.setattr(cli_main, "app", app)
    argv = ["geolm", "generate", str(checkpoint), "--prompt", "x " * 300, "--max-new-tokens", "8"]
    monkeypatch.setattr(sys, "argv", argv)
    with pytest.raises(SystemExit) as exit_:
        cli_main.main()
    assert exit_.value.code == 2
    err_lines = capsys.readouterr().err.splitlines()  # HF's weight-loading bar may come first
    assert err_lines[-1].startswith("error: prompt is 601 tokens but at most 248 fit")
    assert sum("error" in line for line in err_lines) == 1


def test_chat_with_piped_stdin(checkpoint: Path, loaded, tmp_path: Path) -> None:
    model, tok = loaded
    saved, never = tmp_path / "chat.json", tmp_path / "never.json"
    questions = ["What is a cat?", "Where does the sun rise?"]
    lines = [questions[0], "", "/stats", questions[1], f"/save {saved}", "/bogus", "/exit", f"/save {never}"]
    args = ["chat", str(checkpoint), "--system", "Be brief.", *GREEDY]
    result = runner.invoke(app, args, input="\n".join(lines) + "\n")
    assert result.exit_code == 0, result.output

    responder = ResponseGenerator(model, tok, GREEDY_OPTIONS)
    conv = responder.new_conversation("Be brief.")
    replies = [responder.reply(conv, q) for q in questions]
    data = json.loads(saved.read_text())
    assert data["messages"] == conv.messages
    assert [m["role"] for m in data["messages"]] == ["system", "user", "assistant", "user", "assistant"]
    assert not never.exists()  # nothing after /exit ran
    assert all(reply and reply in result.stdout for reply in replies)
    assert "turns 1, messages 3, tokens " in result.stdout
    assert "saved" not in result.stdout and "you>" not in result.output
    assert f"saved 5 messages to {saved}" in result.stderr
    assert "unknown command /bogus" in result.stderr


def test_chat_stats_show_what_the_parts_reported_over_the_last_reply(tokenizer, tmp_path: Path) -> None:
    from tiny_checkpoint import write_checkpoint

    integrator = {"ffn": "integrator", "part_options": {"ffn": {"controller_size": 16, "max_iterations": 4}}}
    ckpt = write_checkpoint(tmp_path / "inl", tokenizer, **integrator)
    lines = ["/stats", "What is a cat?", "/stats"]
    result = runner.invoke(app, ["chat", str(ckpt), *GREEDY], input="\n".join(lines) + "\n")
    assert result.exit_code == 0, result.output
    parts = [line for line in result.stdout.splitlines() if line.startswith("last reply, ")]
    assert len(parts) == 1  # nothing before the first reply
    tokens = int(parts[0].split(",")[1].split()[0])
    assert 1 <= tokens <= 20
    means = dict(re.findall(r"(\w+) ([-+.\de]+)(?:,|$)", parts[0]))
    assert re.search(r"integrator_layer_iterations \[[\d.]+, [\d.]+\]", parts[0])  # one per layer
    assert 1.0 <= float(means["integrator_iterations"]) <= 4.0
    assert float(means["integrator_residual"]) >= 0


def test_chat_prunes_reloads_and_survives_bad_files(checkpoint: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("[1, 2]")
    good = tmp_path / "good.json"
    good.write_text(json.dumps([{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]))
    lines = ["First question here.", "Second question.", "Third question.", "/stats", f"/load {bad}"]
    lines += [f"/load {good}", "/stats", "/reset", "/stats", "/save"]
    args = ["chat", str(checkpoint), "--greedy", "--max-new-tokens", "220", "--device", "cpu"]
    result = runner.invoke(app, args, input="\n".join(lines))
    assert result.exit_code == 0, result.output
    stats = [line for line in result.stdout.splitlines() if line.startswith("turns ")]
    assert len(stats) == 3
    assert stats[0].startswith("turns 1, messages 2, tokens ") and stats[0].endswith("budget 36, pruned turns 2")
    assert stats[1].startswith("turns 1, messages 2,") and stats[1].endswith("pruned turns 0")
    assert stats[2] == "turns 0, messages 0, tokens 0, prompt budget 36, pruned turns 0"
    assert "dropped the 1 oldest turn(s) to fit the context" in result.stderr
    assert "message 0: must be an object" in result.stderr
    assert "error: usage: /save FILE" in result.stderr


def test_chat_needs_a_chat_template(tokenizer, tmp_path: Path) -> None:
    from tiny_checkpoint import build_tokenizer, write_checkpoint

    ckpt = write_checkpoint(tmp_path / "plain", build_tokenizer(chat_template=None))
    result = runner.invoke(app, ["chat", str(ckpt), "--device", "cpu"], input="hi\n")
    assert isinstance(result.exception, CheckpointError)
    assert "has no chat template" in str(result.exception)


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize("ending", [EOFError, KeyboardInterrupt])
def test_interactive_chat_ends_cleanly_on_ctrl_d_and_ctrl_c(checkpoint: Path, monkeypatch, capsys, ending) -> None:
    typed = iter(["hello", ending])

    def fake_input(prompt: str) -> str:
        assert prompt == "you> "
        item = next(typed)
        if isinstance(item, str):
            return item
        raise item

    monkeypatch.setattr(sys, "stdin", _Terminal())
    monkeypatch.setattr("builtins.input", fake_input)
    chat(checkpoint, max_new_tokens=5, greedy=True, device="cpu")  # returns: no exception escapes
    captured = capsys.readouterr()
    assert captured.out.count("\n") == 1  # the one reply
    assert "/help lists commands" in captured.err


def test_the_console_script_is_quiet_unless_verbose(checkpoint: Path) -> None:
    """Library progress bars (transformers' "Loading weights") and warnings only with `geolm --verbose`."""
    from geolm.cli.quiet import QUIET_ENVIRONMENT

    env = {k: v for k, v in os.environ.items() if k not in QUIET_ENVIRONMENT}  # as a fresh shell has it
    args = [GEOLM, "generate", str(checkpoint), "--prompt", "A cat is", *GREEDY]
    quiet = subprocess.run(args, capture_output=True, text=True, env=env, timeout=300)
    assert quiet.returncode == 0, quiet.stderr
    assert quiet.stderr == "" and quiet.stdout.startswith("A cat is")
    loud = subprocess.run([GEOLM, "--verbose", *args[1:]], capture_output=True, text=True, env=env, timeout=300)
    assert loud.returncode == 0 and "Loading weights" in loud.stderr
    assert loud.stdout == quiet.stdout
