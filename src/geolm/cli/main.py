"""Entry point of the `geolm` command: a table of verbs, each imported only when it is asked for.

`geolm --help` is drawn from the table alone, `geolm VERB --help` imports that verb's module (which keeps
torch and transformers inside its functions), and the models are registered with the Auto classes only when
a verb runs. A `GeoError` raised by a verb becomes one `error: ...` line and exit status 2.
"""

from __future__ import annotations

import functools
import importlib
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

import typer
from typer._click import Command, Context, HelpFormatter
from typer.core import TyperArgument, TyperGroup, TyperOption

from geolm import __version__
from geolm.cli.quiet import quiet_libraries
from geolm.errors import GeoError, did_you_mean
from geolm.systems import analyze_verbs


@dataclass(frozen=True)
class Verb:
    """Where a verb lives and the one line `geolm --help` shows for it (a test keeps it equal to the verb's)."""

    module: str
    attr: str
    summary: str
    command: str | None = None  # one command of the Typer app `attr`
    loads_models: bool = True  # register the models with the Auto classes before it runs


@dataclass(frozen=True)
class Group:
    """A verb with commands of its own, each imported only when it is asked for."""

    summary: str
    verbs: dict[str, Verb]


ANALYZE_VERBS: dict[str, Verb] = {
    "terrain": Verb(
        "geolm.cli.analyze",
        "app",
        "Measure the geometric terrain of a model: embeddings, hidden states, weights, WordNet alignment.",
        command="terrain",
    ),
    "compare": Verb(
        "geolm.cli.analyze",
        "app",
        "Align two models with orthogonal Procrustes on shared words, scored on held-out words against nulls.",
        command="compare",
    ),
    "modulator-claim": Verb(
        "geolm.experiments.modulator_claim",
        "claim",
        "Relational Pearson/Spearman of the frozen model, modulated, trained, and with shuffled pairs.",
    ),
    **{name: Verb(verb.module, verb.attr, verb.summary) for name, verb in analyze_verbs().items()},
}

VERBS: dict[str, Verb | Group] = {
    "demo": Verb(
        "geolm.cli.demo",
        "demo",
        "Train `preset` on the embedded WordNet corpus, then score its answers to held-out questions.",
    ),
    "train": Verb(
        "geolm.cli.train",
        "train",
        "Train a geolm model; checkpoints go to OUT/last and OUT/best, metrics to OUT/metrics.jsonl.",
    ),
    "generate": Verb(
        "geolm.cli.generate",
        "generate",
        "Continue a prompt; a prompt that leaves no room for --max-new-tokens in the context is an error.",
    ),
    "chat": Verb("geolm.cli.chat", "chat", "Chat with a model; /help lists the commands."),
    "serve": Verb(
        "geolm.cli.serve",
        "serve",
        "Serve CHECKPOINT at http://HOST:PORT/v1 (models, chat/completions with streaming, completions).",
    ),
    "ui": Verb(
        "geolm.cli.ui",
        "ui",
        "Open a chat page for CHECKPOINT at http://HOST:PORT; answers stream, settings sit under the box.",
    ),
    "eval": Verb(
        "geolm.cli.evaluate",
        "evaluate",
        "Score CHECKPOINT with lm-evaluation-harness; writes results.json and results.md under OUT.",
    ),
    "verify": Verb(
        "geolm.cli.verify",
        "verify",
        "Print parameters by component, then run forward, backward, generate, causality and cache checks.",
    ),
    "convert": Verb(
        "geolm.cli.convert",
        "convert",
        "Convert a local Llama, Mistral, Qwen2 or Qwen3 causal-LM checkpoint (and its tokenizer) to geolm.",
    ),
    "presets": Verb(
        "geolm.cli.presets",
        "presets",
        "List the named presets with their parameter counts, total and active per token (a mixture runs...",
        loads_models=False,
    ),
    "plot": Verb(
        "geolm.cli.plot",
        "plot",
        "Draw train/validation loss, learning rate, tokens/s and κ per head from RUN_DIR/metrics.jsonl.",
        loads_models=False,
    ),
    "menu": Verb(
        "geolm.cli.menu",
        "menu",
        "An interactive numbered menu: train, chat, compare checkpoints, analyse geometry, run the suite.",
    ),
    "experiment": Verb("geolm.cli.experiment", "app", "Experiment suites comparing geometric and standard models."),
    "data": Verb(
        "geolm.cli.data", "app", "Tokenize a corpus into shards; rebuild and count the embedded WordNet corpus."
    ),
    "analyze": Group(
        "Geometry analysis of models: terrain, comparisons, curvature heads, experts, modulators.", ANALYZE_VERBS
    ),
}


SUMMARY_WIDTH = 100  # each summary is its verb's `get_short_help_str(SUMMARY_WIDTH)` (a test keeps them equal)


def _with_models(callback: Callable[..., Any]) -> Callable[..., Any]:
    """Register geolm's models with the Auto classes before the verb runs (not for --help)."""

    @functools.wraps(callback)
    def run(*args: Any, **kwargs: Any) -> Any:
        from geolm.auto import register_auto

        register_auto()
        return callback(*args, **kwargs)

    return run


def _leaves(command: Command) -> list[Command]:
    """`command` itself, or every command below it when it is a group."""
    if isinstance(command, TyperGroup):
        return [leaf for sub in command.commands.values() for leaf in _leaves(sub)]
    return [command]


def _with_models_on_run(command: Command) -> Command:
    """Wrap the callback of every command in `command` with `_with_models`."""
    for leaf in _leaves(command):
        if leaf.callback is not None:
            leaf.callback = _with_models(leaf.callback)
    return command


HELP_NAMES = ["-h", "--help"]
TYPE_WORDS = {"int": "N", "float": "NUMBER", "str": "TEXT", "Path": "PATH"}


def _type_word(param: TyperArgument | TyperOption) -> str | None:
    """The word help shows for a value of this parameter's type (a list shows its element's)."""
    return TYPE_WORDS.get(param.bare_type().removeprefix("list[").removesuffix("]"))


def _speak_in_words(command: Command) -> Command:
    """Help names values as words (`--steps N`, `--out PATH`, `CHECKPOINT PATH`), not as `<int>`, `<path>`,
    `<list[Path]>` or `<bool>`; choices keep their `a|b` list."""
    for leaf in _leaves(command):
        help_option = leaf.get_help_option(Context(leaf, help_option_names=HELP_NAMES))  # made now, kept after
        for param in [*leaf.params, help_option]:
            if isinstance(param, TyperArgument):
                param.metavar = param.metavar or param.name.upper()
                word = _type_word(param)
                if word is not None:
                    param.display_type_rich = lambda ctx, word=word: word  # type: ignore[method-assign]
            elif isinstance(param, TyperOption) and param.is_flag:
                param.metavar = ""  # a flag takes no value
            elif isinstance(param, TyperOption) and param.metavar is None:
                param.metavar = _type_word(param)
    return command


def load_verb(name: str, verb: Verb) -> Command:
    """Import the verb's module and build its command."""
    module = importlib.import_module(verb.module)
    target = getattr(module, verb.attr)
    if not isinstance(target, typer.Typer):
        single = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
        single.command(name, context_settings=getattr(module, "CONTEXT_SETTINGS", None))(target)
        target = single
    command = typer.main.get_command(target)
    if verb.command:
        command = command.commands[verb.command]  # type: ignore[attr-defined]
    _speak_in_words(command)
    return _with_models_on_run(command) if verb.loads_models else command


class VerbGroup(TyperGroup):
    """A group whose commands come from a table of `Verb`s, each imported only when invoked or asked for help.

    Its own help is drawn from the table (plain, not rich: rich help would build every command to list them).
    """

    verbs: dict[str, Verb | Group] = VERBS

    def list_commands(self, ctx: Context) -> list[str]:
        return list(self.verbs)

    def get_command(self, ctx: Context, cmd_name: str) -> Command | None:
        verb = self.verbs.get(cmd_name)
        if isinstance(verb, Group):
            group = VerbGroup(name=cmd_name, help=verb.summary, no_args_is_help=True, rich_markup_mode=None)
            group.verbs = dict(verb.verbs)
            return group
        return load_verb(cmd_name, verb) if verb else None

    def resolve_command(self, ctx: Context, args: list[str]) -> tuple[str | None, Command | None, list[str]]:
        if args and args[0] not in self.verbs and not args[0].startswith("-"):
            hint = did_you_mean(args[0], self.verbs)
            ctx.fail(f"no command {args[0]!r}{hint}; `{ctx.command_path} --help` lists them")
        return super().resolve_command(ctx, args)

    def format_commands(self, ctx: Context, formatter: HelpFormatter) -> None:
        with formatter.section("Commands"):
            formatter.write_dl([(name, verb.summary) for name, verb in self.verbs.items()])


app = typer.Typer(
    name="geolm",
    cls=VerbGroup,
    help="Geometric language models: train, chat, verify and analyse.",
    epilog="Example: geolm train --preset llama-demo --steps 300 --out runs/first",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": HELP_NAMES, "max_content_width": 120},
)


def _show_version(value: bool) -> None:
    if value:
        typer.echo(f"geolm {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="show the libraries' progress bars, logs and warnings")
    ] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_show_version, is_eager=True, help="print the version and exit")
    ] = False,
) -> None:
    """Geometric language models: train, chat, verify and analyse."""
    if not verbose:
        quiet_libraries()


def main() -> None:
    """Run the CLI; a `GeoError` prints `error: ...` on stderr and exits with status 2.

    Click keeps its own handling of usage errors (status 2 with usage help) in standalone mode.
    """
    run_with_errors(app)


def run_with_errors(command: Callable[[], Any]) -> None:
    """Call `command`; a `GeoError` becomes one `error: ...` line on stderr and exit status 2."""
    try:
        command()
    except GeoError as err:
        typer.secho(f"error: {err}", err=True, fg=typer.colors.RED)
        sys.exit(2)
