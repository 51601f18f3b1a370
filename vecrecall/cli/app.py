"""The `vecrecall` Typer app: registers one module per command and turns UserError into one line + exit 2."""

from __future__ import annotations

import importlib
import os
import sys

import typer

app = typer.Typer(
    name="vecrecall",
    help="Build, sweep and evaluate vector retrieval: encode → build-index → query → eval, plus sweep, fuse, rerank, "
    "finetune and anncur. Every stage reads and writes files with a JSON manifest beside them.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)

# One module per command in vecrecall/cli/; each defines register(app). Heavy imports stay inside the commands.
COMMANDS = ["encode", "index", "query", "eval", "info", "demo", "anncur", "make_recsys", "sweep", "fuse", "decay", "rerank", "finetune", "synth_queries", "finetune_cross_encoder"]
for _name in COMMANDS:
    importlib.import_module(f"vecrecall.cli.{_name}").register(app)


@app.callback()
def _root(debug: bool = typer.Option(False, "--debug", help="Show full tracebacks for errors.")) -> None:
    if debug:
        os.environ["VECRECALL_DEBUG"] = "1"


def main() -> None:
    """Console entry point."""
    from ..errors import UserError

    debug = "--debug" in sys.argv or os.environ.get("VECRECALL_DEBUG")
    try:
        rc = app(standalone_mode=False)  # returns the code of a typer Exit (130 for Ctrl-C) instead of exiting
        if isinstance(rc, int) and rc:
            if rc == 130:
                print("interrupted; no partial artifact was left", file=sys.stderr)
            sys.exit(rc)
    except UserError as exc:
        if debug:
            raise
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        print("interrupted; no partial artifact was left", file=sys.stderr)
        sys.exit(130)
    except Exception as exc:  # click usage errors and the like
        import click

        if isinstance(exc, click.exceptions.Exit):
            sys.exit(exc.exit_code)
        if isinstance(exc, click.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        if isinstance(exc, click.exceptions.Abort):
            print("aborted", file=sys.stderr)
            sys.exit(130)
        raise


if __name__ == "__main__":
    main()
