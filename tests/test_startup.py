"""Start-up stays light: the CLI imports no heavy library until a command needs it."""

import subprocess
import sys

HEAVY = ("numpy", "pandas", "torch", "faiss", "sentence_transformers", "transformers", "pyarrow", "scipy",
         "matplotlib", "hnswlib", "annoy", "bm25s", "pymilvus", "ir_measures")


def test_help_imports_no_heavy_library():
    code = ("import sys\nfrom vecrecall.cli.app import app\nfrom typer.testing import CliRunner\n"
            "r = CliRunner().invoke(app, ['--help'])\nassert r.exit_code == 0, r.output\n"
            f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout.strip()
    assert out == "", f"imported at start-up: {out}"


def test_every_subcommand_is_registered():
    from typer.testing import CliRunner

    from vecrecall.cli.app import app

    r = CliRunner().invoke(app, ["--help"])
    for name in ("encode", "build-index", "query", "sweep", "fuse", "rerank", "finetune", "anncur", "eval", "info", "demo"):
        assert name in r.output, name


def test_the_command_table_names_what_each_module_registers():
    """COMMANDS maps each command to the module that registers it; a command missing there would be found only
    through the whole app (help), not when run."""
    import importlib

    import typer

    from vecrecall.cli.app import COMMANDS, GROUPS

    registered, groups = {}, set()
    for module in set(COMMANDS.values()):
        a = typer.Typer()
        importlib.import_module(f"vecrecall.cli.{module}").register(a)
        for name in [c.name for c in a.registered_commands] + [g.name for g in a.registered_groups]:
            registered[name] = module
        groups |= {g.name for g in a.registered_groups}
    assert registered == COMMANDS
    assert groups == GROUPS  # the usage-error hint names a group's subcommand


def test_a_command_imports_only_its_own_module_and_no_pydantic():
    """`vecrecall query` builds only the query command: the other command modules (and pydantic, which Typer 0.29
    imports to coerce options, ≈ 0.1 s) stay unimported."""
    code = ("import sys\nsys.argv = ['vecrecall', 'query', '--help']\nfrom vecrecall.cli.app import main\n"
            "try:\n    main()\nexcept SystemExit as e:\n    assert e.code in (0, None), e.code\n"
            "print(','.join(sorted(m for m in sys.modules if m.startswith(('vecrecall.cli.', 'pydantic')))))")
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    loaded = set(out.strip().splitlines()[-1].split(","))
    assert loaded <= {"vecrecall.cli.app", "vecrecall.cli.query", "vecrecall.cli.common", "vecrecall.cli.params"}, loaded
    assert "vecrecall.cli.query" in loaded
