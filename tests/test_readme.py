"""Every ```bash block of README.md runs, in README order, through the real `vecrecall` entry point on sample_data.

How a block that cannot run as written is run instead (a smaller model, sample_data for Vaswani, fewer steps) or why
it is skipped is stated by `<!-- readme-test: … -->` markers above it in README.md (grammar: tests/readme_blocks.py).
Output blocks (``` after a command block) are compared with what the commands printed. The skips are summarised at
the end of the module (`pytest -rs tests/test_readme.py` lists them too).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from clirun import ROOT, cli_env, entry_point
from readme_blocks import (
    Block,
    MarkerError,
    compare_columns,
    missing_text,
    parse_readme,
    placeholders,
    plan,
)

README = ROOT / "README.md"
BLOCKS = parse_readme(README)
COMMAND_BLOCKS = [b for b in BLOCKS if b.lang == "bash"]
OUTPUT_BLOCKS = [b for b in BLOCKS if b.get("output")]


@dataclass
class Chain:
    dir: Path
    env: dict[str, str]


@dataclass
class Ran:
    command: str
    exit_code: int
    stdout: str
    stderr: str


@dataclass
class State:
    root: Path
    env: dict[str, str]
    chains: dict[str, Chain] = field(default_factory=dict)
    outputs: dict[int, list[Ran]] = field(default_factory=dict)   # block line → what its commands printed
    skipped: list[str] = field(default_factory=list)
    substituted: list[str] = field(default_factory=list)
    seconds: dict[int, float] = field(default_factory=dict)
    models: dict[str, str] = field(default_factory=dict)

    def chain(self, name: str) -> Chain:
        if name not in self.chains:
            d = self.root / name
            d.mkdir(exist_ok=True)
            for item in ("sample_data", "configs", "bench"):
                if (d / item).exists() or (d / item).is_symlink():
                    continue
                target = d / item
                if item == "sample_data":   # a copy, so that no command can write into the checkout's data
                    shutil.copytree(ROOT / item, target)
                else:
                    target.symlink_to(ROOT / item)
            self.chains[name] = Chain(d, dict(self.env))
        return self.chains[name]

    def tiny_models(self, names: set[str]) -> dict[str, str]:
        from tiny_models import make_tiny_bi_encoder, make_tiny_cross_encoder

        for name in names - set(self.models):
            make = make_tiny_bi_encoder if name == "tiny" else make_tiny_cross_encoder
            self.models[name] = str(make(self.root / "models" / name))
        return self.models


def _bin_dir(root: Path) -> str:
    """A directory whose `vecrecall` is the real entry point (the console script beside this interpreter)."""
    script = entry_point()
    if len(script) == 1:
        return str(Path(script[0]).parent)
    shim = root / "bin"
    shim.mkdir(exist_ok=True)
    (shim / "vecrecall").write_text(f'#!/bin/sh\nexec "{sys.executable}" -c '
                                    f'"from vecrecall.cli.app import main; main()" "$@"\n')
    (shim / "vecrecall").chmod(0o755)
    return str(shim)


@pytest.fixture(scope="module")
def state(tmp_path_factory, request):
    root = tmp_path_factory.mktemp("readme")
    env = cli_env(VECRECALL_CACHE_DIR=str(root / "cache"), HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1",
                  PYTHONHASHSEED="0")
    env["PATH"] = os.pathsep.join([_bin_dir(root), str(Path(sys.executable).parent), env.get("PATH", "")])
    st = State(root, env)
    yield st
    lines = [f"README blocks: {len(st.seconds)} run in {sum(st.seconds.values()):.0f}s; "
             f"{len(st.substituted)} commands run with substitutions, {len(st.skipped)} skipped:"]
    lines += [f"  skipped {line}" for line in st.skipped]
    slowest = sorted(st.seconds.items(), key=lambda kv: -kv[1])[:8]
    lines.append("slowest blocks: " + ", ".join(f"README.md:{line} {sec:.0f}s" for line, sec in slowest))
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    with capture.global_and_fixture_disabled():  # shown whether the tests pass or fail
        print("\n" + "\n".join(lines))


def test_markers_are_known_and_outputs_marked():
    """Every marker parses (an unknown one fails here), and every output block after a command block is marked."""
    blocks = parse_readme(README)
    unmarked = [b.line for b in blocks if b.lang != "bash" and b.follows_command and not b.get("output")]
    assert not unmarked, (f"README.md lines {unmarked}: an output block after a command block needs "
                          "`<!-- readme-test: output MODE -->` (or `output none (REASON)`)")


def test_unknown_marker_fails(tmp_path):
    p = tmp_path / "README.md"
    p.write_text("<!-- readme-test: frobnicate -->\n```bash\nvecrecall --help\n```\n")
    with pytest.raises(MarkerError, match="unknown readme-test marker"):
        parse_readme(p)
    p.write_text("<!-- readme-test: skip -->\n```bash\nvecrecall --help\n```\n")
    with pytest.raises(MarkerError, match="must give its reason"):
        parse_readme(p)


def test_markers_change_only_what_they_name(tmp_path):
    p = tmp_path / "README.md"
    p.write_text('<!-- readme-test: model hash:64 -->\n<!-- readme-test: add sweep "--passes 1" -->\n'
                 '<!-- readme-test: replace "--max-steps 600" "--max-steps 2" -->\n'
                 '<!-- readme-test: skip-command "parallel" (not installed) -->\n```bash\n'
                 'V=../shared/datasets/vaswani/beir\n'
                 'for i in 0 1; do vecrecall encode --corpus $V --shard $i/2 --out e.$i; done\n'
                 'vecrecall demo --model hash:256 --out d   # a comment\n'
                 'vecrecall finetune --qrels q \\\n    --max-steps 600 --out m\n'
                 'vecrecall sweep --embeddings e --out s && vecrecall info s\n'
                 'parallel vecrecall encode ::: 0 1\n```\n')
    cmds = plan(parse_readme(p)[0])
    assert cmds[0].assign == ("V", "../shared/datasets/vaswani/beir")
    assert cmds[1].run == "for i in 0 1; do vecrecall encode --model hash:64 --corpus $V --shard $i/2 --out e.$i; done"
    assert cmds[2].run == "vecrecall demo --model hash:64 --out d   # a comment"
    assert cmds[3].run == "vecrecall finetune --qrels q --max-steps 2 --out m"
    assert cmds[4].run == "vecrecall sweep --embeddings e --out s --passes 1 && vecrecall info s"
    assert cmds[5].skipped == "not installed"
    p.write_text('<!-- readme-test: replace "--nlist 128" "--nlist 8" -->\n```bash\nvecrecall info x\n```\n')
    with pytest.raises(MarkerError, match="matches no command"):
        plan(parse_readme(p)[0])
    p.write_text('<!-- readme-test: env V=sample_data -->\n```bash\nV=../shared/x\nvecrecall info $V\n```\n')
    assert plan(parse_readme(p)[0])[0].assign == ("V", "sample_data")


def test_output_comparisons():
    shown = "wrote a: 2,000 → 1,999 rows, in place in 0.62s, version 2\n…\nwrote b: rebuilt in 0.45s"
    assert not missing_text(shown, "x\nwrote a: 2,000 → 1,999 rows, in place in 1.7s,\n version 2\ny\nwrote b: rebuilt in 3s")
    assert missing_text(shown, "wrote b: rebuilt in 3s\nwrote a: 2,000 → 1,999 rows, in place in 1.7s, version 2")
    table = ("┃ run      ┃ nDCG@10 ┃\n┡━━━━━━━━━━╇━━━━━━━━━┩\n│ flat.run │  0.6540 │\n│ ivf.run  │  0.6572 │\n")
    assert not compare_columns(table, table.replace("0.6540", "0.1111"))
    assert compare_columns(table, table.replace("0.6540", "0.1111"), numbers=1)
    assert compare_columns(table, table.replace("nDCG@10", "R@100  "))
    assert compare_columns(table, table.replace("ivf.run ", "hnsw.run"))


def _block_id(b: Block) -> str:
    return f"L{b.line}-{b.chain}"


@pytest.mark.parametrize("block", [pytest.param(b, marks=[pytest.mark.slow] if b.get("slow") else [], id=_block_id(b))
                                   for b in COMMAND_BLOCKS])
def test_readme_block(block: Block, state: State):
    skip = block.get("skip")
    if skip:
        state.skipped.append(f"README.md:{block.line} ({block.heading}): whole block — {skip[0].reason}")
        pytest.skip(skip[0].reason)
    chain = state.chain(block.chain)
    cmds = plan(block, state.tiny_models(placeholders(block)))
    for d in block.get("env"):
        name, value = d.args[0].split("=", 1)
        chain.env[name] = value
    started = time.perf_counter()
    for d in block.get("before"):
        r = subprocess.run(["bash", "-c", d.args[0]], cwd=chain.dir, env=chain.env, capture_output=True, text=True, check=False)
        assert r.returncode == 0, (d.args[0], r.stderr)
    ran: list[Ran] = []
    for c in cmds:
        if c.assign:
            name, value = c.assign
            chain.env[name] = value
            continue
        if c.skipped:
            state.skipped.append(f"README.md:{block.line}: `{c.text}` — {c.skipped}")
            continue
        if c.run != c.text:
            state.substituted.append(f"README.md:{block.line}: `{c.text}` → `{c.run}`")
        t0 = time.perf_counter()
        r = subprocess.run(["bash", "-c", c.run], cwd=chain.dir, env=chain.env, capture_output=True, text=True,
                           timeout=600, check=False)
        ran.append(Ran(c.run, r.returncode, r.stdout, r.stderr))
        with open(state.root / "commands.log", "a", encoding="utf-8") as log:
            log.write(f"{time.perf_counter() - t0:7.1f}s exit {r.returncode} L{block.line} {c.run}\n")
        where = f"README.md:{block.line}: `{c.run}`"
        assert "Traceback" not in r.stderr, f"{where} printed a traceback:\n{r.stderr}"
        assert r.returncode == c.expect_exit, (f"{where} exited {r.returncode}, expected {c.expect_exit}\n"
                                               f"stdout:\n{r.stdout[-3000:]}\nstderr:\n{r.stderr[-3000:]}")
    state.outputs[block.line] = ran
    state.seconds[block.line] = time.perf_counter() - started


@pytest.mark.parametrize("block", OUTPUT_BLOCKS, ids=lambda b: f"L{b.line}")
def test_readme_output(block: Block, state: State):
    d = block.get("output")[0]
    mode, rest = d.args[0], d.args[1:]
    if mode == "none":
        state.skipped.append(f"README.md:{block.line}: output not compared — {d.reason}")
        pytest.skip(d.reason)
    source = max((b for b in COMMAND_BLOCKS if b.line < block.line), key=lambda b: b.line)
    if source.line not in state.outputs:
        pytest.skip(f"the command block at README.md:{source.line} did not run")
    ran = state.outputs[source.line]
    command = next((a for a in rest if "=" not in a.split()[0]), None)
    numbers = int(next((a.split("=", 1)[1] for a in rest if a.startswith("numbers=")), 0))
    if command is None:
        # stderr first: warnings and notes come before a command's result, as a terminal shows them
        actual = "\n".join(r.stderr + "\n" + r.stdout for r in ran)
    else:
        found = [r for r in ran if re.sub(r"\s+#\s.*$", "", r.command) == command]
        if found:
            actual = found[-1].stdout
        else:
            chain = state.chain(source.chain)
            r = subprocess.run(["bash", "-c", command], cwd=chain.dir, env=chain.env, capture_output=True,
                               text=True, timeout=600, check=False)
            assert r.returncode == 0 and "Traceback" not in r.stderr, (command, r.stderr)
            actual = r.stdout
    if mode == "text":
        missing = missing_text(block.text, actual)
        assert not missing, f"README.md:{block.line}: not in the output:\n" + "\n".join(missing) + \
            f"\n--- output:\n{actual}"
    else:
        problems = compare_columns(block.text, actual, numbers)
        assert not problems, f"README.md:{block.line}:\n" + "\n".join(problems) + f"\n--- output:\n{actual}"
