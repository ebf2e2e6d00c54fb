"""`geolm menu` driven through scripted stdin: a bad choice, a chat, a comparison, exit."""

from __future__ import annotations

import typer
from typer.testing import CliRunner

from geolm.cli.menu import REPLY_TOKENS, menu
from geolm.inference import ResponseGenerator, SamplingOptions, load_for_inference


def run_menu(script: str):
    app = typer.Typer()
    app.command()(menu)
    return CliRunner().invoke(app, [], input=script, env={"COLUMNS": "2000"})


def greedy_reply(checkpoint, prompt: str) -> str:
    model, tokenizer = load_for_inference(checkpoint, device="cpu")
    responder = ResponseGenerator(model, tokenizer, SamplingOptions(max_new_tokens=REPLY_TOKENS, greedy=True))
    return responder.reply(responder.new_conversation(), prompt)


def test_invalid_choice_chat_compare_exit(checkpoint):
    path = str(checkpoint)
    script = "\n".join(["9", "2", path, "hello there", "/stats", "/exit", "3", path, path, "a cat", "", "6", "2"])
    result = run_menu(script + "\n")
    assert result.exit_code == 0, result.output
    assert "invalid choice '9'; enter a number from 1 to 6" in result.output
    assert "turns 1, messages 2" in result.output  # the chat answered the one message
    reply = greedy_reply(checkpoint, "a cat")
    first_line = reply.splitlines()[0].strip()
    assert first_line
    table_rows = [line for line in result.output.splitlines() if first_line in line]
    assert len(table_rows) == 1 and table_rows[0].count(first_line) == 2  # the same model twice, side by side
    assert result.output.count("choice: ") == 4  # exit ended the menu: the final "2" was never read


def test_end_of_input_and_bad_checkpoint_leave_cleanly(tmp_path):
    result = run_menu(f"2\n{tmp_path / 'none'}\n1\ncurvature-tiny\nmany\n")
    assert result.exit_code == 0, result.output
    assert "error: checkpoint not found" in result.output
    assert "steps: expected a positive whole number, got 'many'" in " ".join(result.output.split())
    assert result.output.count("choice: ") == 3


def test_analyse_offers_the_terrain_and_every_familys_own_analysis(checkpoint):
    from geolm.systems import analyze_verbs

    result = run_menu("\n".join(["4", "1", str(checkpoint), "6"]) + "\n")
    assert result.exit_code == 0, result.output
    for name in analyze_verbs():
        assert f". {name} (" in result.output  # listed from the families' declarations
    assert "error" not in result.output.lower()
    assert "embedding" in result.output  # the terrain's --describe lists its batteries
