"""`geolm menu`: a numbered menu over the other verbs, for people who would rather not remember flags.

Every answer is one line read from stdin, so the menu can be driven from a pipe or a file; end of input
leaves it like "exit" does. A user error inside an action is printed and the menu comes back.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from pathlib import Path

import click
import typer
from rich.console import Console
from rich.table import Table

from geolm.errors import GeoError

CHOICES = (
    ("train a new model", "train"),
    ("load a model and chat", "chat"),
    ("compare two checkpoints side by side", "compare"),
    ("analyse geometry (a terrain description, or a family's own analysis)", "analyse"),
    ("run the experiment suite (quick)", "suite"),
    ("exit", "exit"),
)
REPLY_TOKENS = 64


class EndOfInput(Exception):
    """stdin ran out in the middle of a question."""


def read_line(prompt: str) -> str:
    """One line from stdin after `prompt`; `EndOfInput` at the end of input."""
    try:
        return input(prompt)
    except EOFError:
        raise EndOfInput from None


def invoke(command: Callable[..., None], args: list[str]) -> None:
    """Run a typer verb function with command-line arguments, as `geolm VERB ARGS` would."""
    app = typer.Typer(add_completion=False)
    app.command()(command)
    typer.main.get_command(app).main(args=args, prog_name="geolm", standalone_mode=False)


class Menu:
    """The loop: show the choices, read one, run it, until "exit" or end of input."""

    def __init__(self, read: Callable[[str], str] = read_line, console: Console | None = None) -> None:
        self.read = read
        self.console = console or Console(highlight=False)
        self.actions: dict[str, Callable[[], None]] = {
            "train": self.train,
            "chat": self.chat,
            "compare": self.compare,
            "analyse": self.analyse,
            "suite": self.suite,
        }

    def ask(self, question: str, default: str | None = None) -> str:
        """An answer, or `default` for an empty line."""
        suffix = f" [{default}]" if default is not None else ""
        answer = self.read(f"{question}{suffix}: ").strip()
        return answer or (default or "")

    def ask_int(self, question: str, default: int) -> int:
        answer = self.ask(question, str(default))
        if not answer.isdigit() or int(answer) < 1:
            raise click.BadParameter(f"{question}: expected a positive whole number, got {answer!r}")
        return int(answer)

    def run(self) -> None:
        while True:
            self.console.print()
            for number, (label, _) in enumerate(CHOICES, 1):
                self.console.print(f"  {number}. {label}")
            try:
                answer = self.read("choice: ").strip()
            except EndOfInput:
                return
            names = {str(n): name for n, (_, name) in enumerate(CHOICES, 1)}
            name = names.get(answer)
            if name is None:
                self.console.print(f"invalid choice {answer!r}; enter a number from 1 to {len(CHOICES)}")
                continue
            if name == "exit":
                return
            try:
                self.actions[name]()
            except EndOfInput:
                return
            except (GeoError, click.ClickException) as err:
                message = err.format_message() if isinstance(err, click.ClickException) else str(err)
                self.console.print(f"error: {message}")

    def train(self) -> None:
        from geolm import api
        from geolm.cli.train import summary_table

        preset = self.ask("preset", "curvature-tiny")
        steps = self.ask_int("steps", 100)
        out = self.ask("output directory", f"runs/{preset}")
        tokens = self.ask_int("training tokens", 1_000_000)
        spec = api.RunSpec(preset=preset, out=out, max_train_tokens=tokens, args=api.TrainArgs(steps=steps))
        self.console.print(summary_table(api.train(spec), steps))

    def chat(self) -> None:
        from geolm.inference.session import ChatSession

        responder = self.responder(self.ask("checkpoint"))
        self.console.print("chatting; /exit returns to the menu, /help lists the commands")
        ChatSession(responder, responder.new_conversation()).run(self.lines("you> "))

    def compare(self) -> None:
        first, second = self.ask("first checkpoint"), self.ask("second checkpoint")
        responders = [self.responder(first, greedy=True), self.responder(second, greedy=True)]
        self.console.print("same prompt to both (greedy); an empty line returns to the menu")
        for prompt in self.lines("prompt> "):
            if not prompt.strip():
                return
            table = Table(show_lines=True)
            table.add_column(first)
            table.add_column(second)
            table.add_row(*(r.reply(r.new_conversation(), prompt.strip()) for r in responders))
            self.console.print(table)

    def analyse(self) -> None:
        from geolm.cli.analyze import terrain
        from geolm.systems import analyze_verbs

        verbs = list(analyze_verbs().items())  # each family's `geolm analyze` verbs
        kinds = ["terrain description of a model", *(f"{name} ({verb.summary})" for name, verb in verbs)]
        for number, kind in enumerate(kinds, 1):
            self.console.print(f"    {number}. {kind}")
        kind = self.ask("analysis", "1")
        if kind not in {str(number) for number in range(1, len(kinds) + 1)}:
            raise click.BadParameter(f"expected a number from 1 to {len(kinds)}, got {kind!r}")
        path = self.ask("checkpoint or model directory")
        if kind == "1":
            invoke(terrain, [path, "--describe"])
            return
        name, verb = verbs[int(kind) - 2]
        out = self.ask("output directory", f"{name}-{Path(path).name}")
        invoke(getattr(importlib.import_module(verb.module), verb.attr), [path, "--out", out])

    def suite(self) -> None:
        from geolm.experiments.report import comparison_table
        from geolm.experiments.suite import SuiteOptions, run_suite

        out = Path(self.ask("output directory", "experiments/quick"))
        results = run_suite(SuiteOptions.quick(), out)
        self.console.print(comparison_table(results))
        self.console.print(f"results in {out}")

    def responder(self, checkpoint: str, greedy: bool = False):
        """A `ResponseGenerator` over a loaded checkpoint (which must have a chat template)."""
        from geolm.inference.conversation import require_chat_template
        from geolm.inference.generation import SamplingOptions
        from geolm.inference.loading import load_for_inference
        from geolm.inference.responder import ResponseGenerator

        model, tokenizer = load_for_inference(checkpoint)
        require_chat_template(tokenizer)
        return ResponseGenerator(model, tokenizer, SamplingOptions(max_new_tokens=REPLY_TOKENS, greedy=greedy))

    def lines(self, prompt: str) -> Iterator[str]:
        """Lines until end of input (the menu then ends too)."""
        while True:
            yield self.read(prompt)


def menu() -> None:
    """An interactive numbered menu: train, chat, compare checkpoints, analyse geometry, run the suite.

    Example: geolm menu
    """
    try:
        Menu().run()
    except KeyboardInterrupt:
        typer.echo("")
