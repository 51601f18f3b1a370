"""The `vecrecall` Typer app: registers one module per command and turns every error into one line on stderr.

Exit codes: 0 success; 2 bad input (UserError) or a usage error (missing/unknown option, bad value, unknown
command; bare `vecrecall` prints the help and exits 2 as Click does); 130 Ctrl-C (SIGINT); 143 SIGTERM; 1 a bug
(traceback). `--debug` (or VECRECALL_DEBUG=1), anywhere on the command line, prints the traceback of a bad-input
or usage error before its line, with the same exit code.
"""

from __future__ import annotations

import importlib
import os
import signal
import sys
from types import FrameType

import typer

from .. import _interrupted_while_starting

_SETTINGS: dict = dict(
    name="vecrecall",
    help="Build, sweep and evaluate vector retrieval: encode → build-index → query → eval, plus sweep, fuse, rerank, "
    "finetune and anncur. Every stage reads and writes files with a JSON manifest beside them.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)
# Command name → the module in vecrecall/cli/ whose register(app) adds it (tests/test_startup.py checks the two agree).
# `vecrecall NAME …` imports only NAME's module; help and unknown names import them all. Heavy imports stay inside
# the commands.
GROUPS = {"anncur"}  # commands with subcommands
COMMANDS: dict[str, str] = {
    "encode": "encode", "merge": "merge", "build-index": "index", "query": "query", "backends": "backends",
    "eval": "eval", "info": "info", "demo": "demo", "anncur": "anncur", "make-recsys": "make_recsys",
    "sweep": "sweep", "fuse": "fuse", "decay": "decay", "rerank": "rerank", "finetune": "finetune",
    "synth-queries": "synth_queries", "finetune-cross-encoder": "finetune_cross_encoder",
    "import-vectors": "import_vectors", "finetune-two-tower": "finetune_two_tower", "exclude-seen": "exclude_seen",
    "recsys-baseline": "recsys_baseline", "make-interaction-log": "make_interaction_log",
    "update-index": "update_index", "rebuild": "update_index",
}


def _reflow(doc: str) -> str:
    """Docstring paragraphs as one line each, for the terminal to wrap (rich mode keeps single newlines as breaks);
    lines starting with '-' stay separate items."""
    paragraphs = []
    for para in doc.split("\n\n"):
        lines: list[str] = []
        for line in para.splitlines():
            if lines and not line.lstrip().startswith(("-", "•")):
                lines[-1] += " " + line.strip()
            else:
                lines.append(line.rstrip())
        paragraphs.append("\n".join(lines))
    return "\n\n".join(paragraphs)


_ESCAPED: set[int] = set()


def _plain_help_texts(typer_app: typer.Typer, seen: set[int] = _ESCAPED) -> None:
    """Help texts are plain text, but rich_markup_mode='rich' reads `[negatives]` as a markup tag and drops it:
    escape every command's docstring (its paragraphs reflowed) and every option's help, once each in the process
    (options such as --json are shared objects, and an app may be built more than once)."""
    import inspect

    from rich.markup import escape
    from typer.models import ParameterInfo

    for cmd in typer_app.registered_commands:
        if cmd.callback is None:
            continue
        if cmd.help is None and cmd.callback.__doc__:
            cmd.help = escape(_reflow(inspect.cleandoc(cmd.callback.__doc__)))
        for p in inspect.signature(cmd.callback).parameters.values():
            if isinstance(p.default, ParameterInfo) and p.default.help and id(p.default) not in seen:
                seen.add(id(p.default))
                p.default.help = escape(p.default.help)
    for group in typer_app.registered_groups:
        if group.typer_instance is not None:
            _plain_help_texts(group.typer_instance, seen)


def _root(debug: bool = typer.Option(False, "--debug", help="Show full tracebacks for errors.")) -> None:
    if debug:
        os.environ["VECRECALL_DEBUG"] = "1"


def build_app(only: str | None = None) -> typer.Typer:
    """The Typer app: every command, or only command `only` (and any registered beside it) when it is one of
    COMMANDS, so a run imports one command module and Typer turns one signature into Click objects."""
    built = typer.Typer(**_SETTINGS)
    built.callback()(_root)
    modules = [COMMANDS[only]] if only in COMMANDS else list(dict.fromkeys(COMMANDS.values()))
    for module in modules:
        importlib.import_module(f"vecrecall.cli.{module}").register(built)
    _plain_help_texts(built)
    return built


def __getattr__(name: str) -> typer.Typer:
    """`from vecrecall.cli.app import app`: the whole app, built on first use."""
    if name == "app":
        globals()["app"] = whole = build_app()
        return whole
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _click_classes(name: str) -> tuple[type, ...]:
    """The class `name` as every installed parser defines it: Typer ≥ 0.2x vendors Click as `typer._click` (with
    `Exit`/`Abort` in `typer.exceptions`); older Typer raises Click's own classes."""
    found = []
    for module in ("typer._click.exceptions", "typer.exceptions", "click.exceptions"):
        if module.startswith("click.") and "click" not in sys.modules:
            continue  # Click itself was never imported (Typer vendors it), so none of its classes can be raised
        try:
            cls = getattr(importlib.import_module(module), name, None)
        except ImportError:
            continue
        if isinstance(cls, type) and cls not in found:
            found.append(cls)
    return tuple(found)


class _Signalled(KeyboardInterrupt):
    """SIGTERM, raised where Ctrl-C's KeyboardInterrupt would be, so the same clean-up runs."""


_received: list[int] = []


def _on_signal(signum: int, frame: FrameType | None) -> None:
    _received.append(signum)
    if signum == signal.SIGINT:
        raise KeyboardInterrupt
    raise _Signalled


def _interrupted() -> None:
    from ..artifacts import interruption_note

    signum = _received[-1] if _received else signal.SIGINT
    name = "interrupted" if signum == signal.SIGINT else f"terminated ({signal.Signals(signum).name})"
    print(f"{name}; {interruption_note()}", file=sys.stderr)
    sys.exit(128 + signum)


def _swallowed_option(ctx: object, args: list[str]) -> tuple[str, str] | None:
    """(A, B) when option A, which takes a value, was given option B as its value (`--corpus --out x`): Click then
    reports B as missing or a stray argument, not the option that lacks its value."""
    command = getattr(ctx, "command", None)
    if command is None:
        return None
    takes_value = {o for p in command.params if not getattr(p, "is_flag", False) and getattr(p, "opts", None)
                   for o in p.opts}
    known = {o for p in command.params for o in (*getattr(p, "opts", ()), *getattr(p, "secondary_opts", ()))}
    for a, b in zip(args, args[1:]):
        if a in takes_value and b in known:
            return a, b
    return None


def _usage_error(exc: Exception, args: list[str]) -> None:
    ctx = getattr(exc, "ctx", None)
    path = getattr(ctx, "command_path", None) if ctx is not None else None
    if not path and args and args[0] in COMMANDS:  # the option parser raises some errors without a context
        sub = args[1] if args[0] in GROUPS and len(args) > 1 and not args[1].startswith("-") else None
        path = " ".join(["vecrecall", args[0], *([sub] if sub else [])])
    hint = f" (see '{path} --help')" if path else ""
    if getattr(exc, "possibilities", None):  # Click's suggestions come from a loose match (--bogus → --out)
        import difflib

        exc.possibilities = difflib.get_close_matches(exc.option_name, exc.possibilities, cutoff=0.75)
    message = " ".join(exc.format_message().split())  # one line, whatever the message holds
    swallowed = _swallowed_option(ctx, args)
    if swallowed:
        message = f"{swallowed[0]} has no value: it took the option {swallowed[1]} as its value; give {swallowed[0]} a value"
    print(f"error: {message}{hint}", file=sys.stderr)
    sys.exit(2)


def main() -> None:
    """Console entry point."""
    from ..errors import UserError

    debug = "--debug" in sys.argv or os.environ.get("VECRECALL_DEBUG")
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    signal.signal(signal.SIGTERM, _on_signal)
    if previous[signal.SIGINT] in (signal.default_int_handler, _interrupted_while_starting):
        signal.signal(signal.SIGINT, _on_signal)
    _received.clear()
    if "vecrecall.artifacts" in sys.modules:  # several commands in one process (tests): report only this one's
        sys.modules["vecrecall.artifacts"].reset_session()
    click_errors = _click_classes("ClickException")
    exits, aborts = _click_classes("Exit"), _click_classes("Abort")
    try:
        args = [a for a in sys.argv[1:] if a != "--debug"]
        runs = build_app(args[0] if args else None)
        if not args or (len(args) == 1 and args[0] in {g.name for g in runs.registered_groups}):
            # No command: the help, and exit 2 as a usage error (Click ≥ 8.2 does so; older Click exited 0).
            runs([*args, "--help"], standalone_mode=False, prog_name="vecrecall")
            sys.exit(2)
        # --debug is taken out wherever it stands (the root option alone would refuse it after the command)
        rc = runs(args, standalone_mode=False, prog_name="vecrecall")  # returns an Exit's code (130: Ctrl-C)
        if isinstance(rc, int) and rc:
            if rc == 130:
                _interrupted()
            sys.exit(rc)
    except UserError as exc:
        if debug:
            import traceback

            traceback.print_exc()
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        _interrupted()
    except click_errors as exc:
        if debug:
            import traceback

            traceback.print_exc()
        _usage_error(exc, [a for a in sys.argv[1:] if a != "--debug"])
    except exits as exc:
        sys.exit(exc.exit_code)
    except aborts:
        print("aborted", file=sys.stderr)
        sys.exit(130)
    finally:
        for sig, handler in previous.items():  # in-process callers (tests) get their handlers back
            signal.signal(sig, handler)

if __name__ == "__main__":
    main()
