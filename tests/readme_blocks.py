"""Read README.md's command blocks and the `<!-- readme-test: … -->` markers beside them, and run them.

A ```bash block is a list of commands (backslash-continued lines joined; `NAME=VALUE` / `export NAME=VALUE` lines set
a variable for the rest of the chain; `# …` lines are comments). HTML comments directly above a fence say how the test
runs it; they render invisibly. One directive per comment:

    skip (REASON)                    the block is not run
    slow (REASON)                    the block is marked `slow` (deselected by -m "not slow"; later blocks must not
                                     need its outputs)
    skip-command "TEXT" (REASON)     commands containing TEXT are not run
    env NAME=VALUE                   NAME is VALUE for the block (wins over an assignment line in the block)
    replace "OLD" "NEW"              text substitution in every command of the block
    add SUBCOMMAND "OPTIONS"         OPTIONS appended to every `vecrecall SUBCOMMAND` of the block
    model MODEL                      every `--model X` becomes MODEL, and `encode`/`demo` without one get it;
                                     `model SUBCOMMAND=MODEL` only for that subcommand
    before "SHELL"                   a shell command run before the block (inputs the README assumes exist)
    exit N "TEXT"                    the command containing TEXT exits N (a block that shows an error)
    chain NAME                       run in working directory NAME (default `main`); blocks of a chain share files
    output MODE ["COMMAND"]          (above a ``` output block) compare it with the output of the block above it
                                     (each command's stderr, then its stdout), or with the stdout of COMMAND (a
                                     command of that block, or run on its own):
                                     `text`: the block's text, cut at `…` lines, appears in order in the output
                                     (whitespace-normalised, durations such as 0.62s masked);
                                     `columns`: the tables' column names and row labels are those of the output
                                     (`columns numbers=N`: and each row's first N numbers);
                                     `none (REASON)`: not compared

In `replace`, `add` and `model` values, `{tiny}` and `{tiny-ce}` are tiny random-init models (a sentence-transformers
bi-encoder and a CrossEncoder, tests/tiny_models.py) that the test makes. Every skip is listed at the end of the run.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path

MARKER = re.compile(r"^<!--\s*readme-test:\s*(.*?)\s*-->\s*$")
FENCE = re.compile(r"^```(\w*)\s*$")
DIRECTIVES = {"skip", "slow", "skip-command", "env", "replace", "add", "model", "before", "exit", "chain", "output"}
OUTPUT_MODES = {"text", "columns", "none"}


class MarkerError(ValueError):
    pass


@dataclass
class Directive:
    name: str
    args: list[str]
    reason: str = ""
    line: int = 0


@dataclass
class Block:
    line: int                      # 1-based line of the opening fence
    lang: str
    text: str
    directives: list[Directive]
    heading: str
    follows_command: bool = False  # the nearest fenced block above, in the same section, is a ```bash block

    def get(self, name: str) -> list[Directive]:
        return [d for d in self.directives if d.name == name]

    @property
    def chain(self) -> str:
        found = self.get("chain")
        return found[-1].args[0] if found else "main"


def parse_directive(body: str, line: int) -> Directive:
    reason = ""
    m = re.search(r"\(([^()]*)\)\s*$", body)
    if m:
        reason, body = m.group(1).strip(), body[: m.start()].strip()
    try:
        words = shlex.split(body)
    except ValueError as exc:
        raise MarkerError(f"README.md:{line}: marker {body!r}: {exc}") from None
    if not words or words[0] not in DIRECTIVES:
        raise MarkerError(f"README.md:{line}: unknown readme-test marker {body!r} (known: {sorted(DIRECTIVES)})")
    d = Directive(words[0], words[1:], reason, line)
    want = {"skip": (0, 0), "slow": (0, 0), "skip-command": (1, 1), "env": (1, 1), "replace": (2, 2), "add": (2, 2), "model": (1, 1),
            "before": (1, 1), "exit": (2, 2), "chain": (1, 1), "output": (1, 3)}[d.name]
    if not want[0] <= len(d.args) <= want[1]:
        raise MarkerError(f"README.md:{line}: marker {body!r}: {d.name} takes {want[0]}–{want[1]} arguments")
    if d.name in ("skip", "slow", "skip-command") and not reason:
        raise MarkerError(f"README.md:{line}: marker {body!r}: {d.name} must give its reason in parentheses")
    if d.name == "env" and "=" not in d.args[0]:
        raise MarkerError(f"README.md:{line}: marker {body!r}: env takes NAME=VALUE")
    if d.name == "exit" and not d.args[0].isdigit():
        raise MarkerError(f"README.md:{line}: marker {body!r}: exit takes a number, then the command's text")
    if d.name == "output":
        if d.args[0] not in OUTPUT_MODES:
            raise MarkerError(f"README.md:{line}: marker {body!r}: output mode is one of {sorted(OUTPUT_MODES)}")
        if d.args[0] == "none" and not reason:
            raise MarkerError(f"README.md:{line}: marker {body!r}: `output none` must give its reason")
    return d


def parse_readme(path: Path) -> list[Block]:
    """Every fenced block with the markers directly above it (a marker not directly above a fence is an error)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    blocks: list[Block] = []
    pending: list[Directive] = []
    heading = ""
    last_lang: str | None = None
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("#") and not pending:
            heading, last_lang = line.lstrip("#").strip(), None
        m = MARKER.match(line)
        if m:
            pending.append(parse_directive(m.group(1), i + 1))
            i += 1
            continue
        if "readme-test" in line:
            raise MarkerError(f"README.md:{i + 1}: malformed readme-test marker {line.strip()!r} "
                              "(one `<!-- readme-test: … -->` per line)")
        f = FENCE.match(line)
        if f:
            end = i + 1
            while end < len(lines) and not lines[end].startswith("```"):
                end += 1
            block = Block(i + 1, f.group(1), "\n".join(lines[i + 1:end]), pending, heading,
                          follows_command=last_lang == "bash")
            blocks.append(block)
            last_lang, pending, i = f.group(1), [], end + 1
            continue
        if pending:
            raise MarkerError(f"README.md:{pending[0].line}: readme-test marker not directly above a ``` fence")
        i += 1
    for b in blocks:
        if b.lang == "bash" and b.get("output"):
            raise MarkerError(f"README.md:{b.line}: `output` marks an output block, not a ```bash block")
        if b.lang != "bash" and any(d.name != "output" for d in b.directives):
            raise MarkerError(f"README.md:{b.line}: only `output` applies to a non-bash block")
    return blocks


@dataclass
class Command:
    text: str                      # as in the README (continuations joined)
    run: str = ""                  # after the markers' substitutions
    skipped: str = ""              # reason, when not run
    assign: tuple[str, str] | None = None
    expect_exit: int = 0


def split_commands(text: str) -> list[str]:
    out: list[str] = []
    cur = ""
    for raw in text.splitlines():
        stripped = raw.strip()
        if not cur and (not stripped or stripped.startswith("#")):
            continue
        if stripped.endswith("\\"):
            cur += stripped[:-1].rstrip() + " "
            continue
        out.append(cur + stripped)
        cur = ""
    if cur:
        out.append(cur.strip())
    return out


ASSIGN = re.compile(r"^(?:export\s+)?([A-Za-z_]\w*)=(\S*)\s*(?:#.*)?$")


def each_subcommand(cmd: str, edit) -> str:
    """`cmd` with edit(subcommand, segment) applied to each `vecrecall SUBCOMMAND …` in it (also inside a `for` loop
    or after `&&`); a segment ends at `;`, `&&`, `|`, a comment or the end."""
    out, pos = [], 0
    for m in re.finditer(r"\bvecrecall\s+(?:--\S+\s+)*([a-z][\w-]*)", cmd):
        if m.start() < pos:
            continue
        end = re.search(r"\s*(?:;|&&|\|\|?|\s#\s|$)", cmd[m.end():])
        stop = m.end() + end.start()
        out.append(cmd[pos:m.start()] + edit(m.group(1), cmd[m.start():stop]))
        pos = stop
    out.append(cmd[pos:])
    return "".join(out)


def apply_model(cmd: str, model: str, only: str | None) -> str:
    def edit(sub: str, seg: str) -> str:
        if only and sub != only:
            return seg
        if re.search(r"--model\s+\S+", seg):
            return re.sub(r"--model\s+\S+", f"--model {model}", seg)
        if sub in ("encode", "demo") and "--print-paths" not in seg:
            head = re.match(r"vecrecall\s+(?:--\S+\s+)*[a-z][\w-]*", seg).end()
            return seg[:head] + f" --model {model}" + seg[head:]
        return seg

    return each_subcommand(cmd, edit)


PLACEHOLDER = re.compile(r"\{(tiny|tiny-ce)\}")


def placeholders(block: Block) -> set[str]:
    return {m for d in block.get("replace") + block.get("model") + block.get("add") for a in d.args for m in PLACEHOLDER.findall(a)}


def plan(block: Block, models: dict[str, str] | None = None) -> list[Command]:
    """The block's commands with the markers applied (what the test runs, and what it skips and why)."""
    models = models or {}

    def expand(value: str) -> str:
        return PLACEHOLDER.sub(lambda m: models.get(m.group(1), m.group(0)), value)

    envs = dict(d.args[0].split("=", 1) for d in block.get("env"))
    cmds: list[Command] = []
    for text in split_commands(block.text):
        c = Command(text)
        a = ASSIGN.match(text)
        if a:
            name, value = a.group(1), a.group(2)
            c.assign = (name, envs.get(name, value))
            cmds.append(c)
            continue
        run = text
        for d in block.get("replace"):
            run = run.replace(d.args[0], expand(d.args[1]))
        for d in block.get("add"):
            run = each_subcommand(run, lambda sub, seg, d=d: seg + " " + expand(d.args[1]) if sub == d.args[0] else seg)
        for d in block.get("model"):
            only, model = d.args[0].split("=", 1) if "=" in d.args[0] else (None, d.args[0])
            run = apply_model(run, expand(model), only)
        c.run = run
        for d in block.get("skip-command"):
            if d.args[0] in text:
                c.skipped = d.reason
        for d in block.get("exit"):
            if d.args[1] in text:
                c.expect_exit = int(d.args[0])
        cmds.append(c)
    for d in block.get("skip-command") + block.get("replace") + block.get("exit"):
        needle = d.args[1] if d.name == "exit" else d.args[0]
        if not any(needle in c.text for c in cmds):
            raise MarkerError(f"README.md:{d.line}: {d.name} {needle!r} matches no command of the block below it")
    return cmds


# ---- output comparison -------------------------------------------------------------------------------------------

DURATION = re.compile(r"\d[\d,]*(?:\.\d+)?\s?(?:ms|s)\b")
BOX_ROW = re.compile(r"^\s*[┃│](.*)[┃│]\s*$")


def normalise(text: str) -> str:
    text = DURATION.sub("<T>", text)
    return " ".join(text.split())


def text_fragments(expected: str) -> list[str]:
    parts, cur = [], []
    for line in expected.splitlines():
        if line.strip() == "…":
            parts.append("\n".join(cur))
            cur = []
        else:
            cur.append(line)
    parts.append("\n".join(cur))
    return [normalise(p) for p in parts if p.strip()]


def missing_text(expected: str, actual: str) -> list[str]:
    """Fragments of `expected` (cut at `…` lines) that do not appear, in order, in `actual`."""
    hay, pos, missing = normalise(actual), 0, []
    for frag in text_fragments(expected):
        at = hay.find(frag, pos)
        if at < 0:
            missing.append(frag)
        else:
            pos = at + len(frag)
    return missing


NUMBER = re.compile(r"^[-+]?[\d,]*\.?\d+(?:e[-+]?\d+)?%?$")


def table_cells(text: str) -> tuple[list[list[str]], list[tuple[str, list[str]]]]:
    """(header rows, [(row label, the row's numeric cells)]) of the box tables (rich) or ─── ruled tables in `text`.

    A ruled table's header is the line above the rule; a row's label is its text before the first number (lines
    without a number continue the row above); `★` marks are dropped (they depend on timing)."""
    headers: list[list[str]] = []
    rows: list[tuple[str, list[str]]] = []
    lines = text.splitlines()
    for i, line in enumerate(lines):
        m = BOX_ROW.match(line)
        if m:
            cells = [c.strip() for c in re.split(r"[┃│]", m.group(1))]
            if "┃" in line:
                headers.append([c for c in cells if c])
            elif cells and cells[0]:
                rows.append((cells[0], [c.split()[0] for c in cells[1:] if c and NUMBER.match(c.split()[0])]))
        elif re.match(r"^\s*[─━]{20,}\s*$", line) and i > 0:
            headers.append([w for w in lines[i - 1].split() if w != "★"])
            for row in lines[i + 1:]:
                if not row.strip() or re.match(r"^\s*[─━]", row):
                    break
                words = [w for w in row.split() if w != "★"]
                first = next((k for k, w in enumerate(words) if NUMBER.match(w)), len(words))
                if first == len(words) and rows:
                    label, nums = rows[-1]
                    rows[-1] = (label + " " + " ".join(words), nums)
                else:
                    rows.append((" ".join(words[:first]), [w for w in words[first:] if NUMBER.match(w)]))
    return headers, rows


def compare_columns(expected: str, actual: str, numbers: int = 0) -> list[str]:
    """Differences between the README's tables and the output's: headers, row labels, each row's first N numbers."""
    eh, er = table_cells(expected)
    ah, ar = table_cells(actual)
    problems = []
    if not eh:
        problems.append("the README block holds no table")
    if eh != ah:
        problems.append(f"headers: README {eh} != output {ah}")
    if [r[0] for r in er] != [r[0] for r in ar]:
        problems.append(f"row labels: README {[r[0] for r in er]} != output {[r[0] for r in ar]}")
    elif numbers:
        for (label, en), (_, an) in zip(er, ar):
            if en[:numbers] != an[:numbers]:
                problems.append(f"row {label!r}: README {en[:numbers]} != output {an[:numbers]}")
    return problems
