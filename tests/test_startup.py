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
