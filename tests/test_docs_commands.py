"""Every command the documentation shows works as shown: each ``ingestbench ...`` and ``locust -f ...`` command
in a shell code block of README.md and docs/*.md, and in the comments of the example scenarios, is parsed by
the real parser (an unknown flag, "unrecognized arguments", or a bad value fails), the files it names as input
must exist, and then:

- ``run``, ``probe`` and ``search`` commands run with ``--check`` appended (and ``--connect`` left out): the
  scenario, SLO, target options, secrets and every setting are validated and nothing is started or sent
  (commands aimed at outside URLs never touch the network);
- every other ``ingestbench`` command runs with ``--help`` appended;
- ``locust -f ...`` runs with ``--list`` appended, not ``--help``: Locust reads ``--help`` before it loads the
  file, so only ``--list`` makes it parse the project's options (and it starts nothing).

Secrets get dummy values (tests/doc_env.py). The commands run in-process (Locust's in a child), so this is fast.
Internal links of README.md and docs/targets.md are checked too: every ``#anchor`` names a heading and every
relative link an existing file.
"""

from __future__ import annotations

import contextlib
import io
import itertools
import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from ingestbench.cli import COMMANDS, build_parser, main
from ingestbench.records.scenario import load_scenario
from tests.doc_env import dummy_env

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
EXAMPLES = sorted((ROOT / "ingestbench" / "scenarios" / "examples").glob("*.toml"))
SHELL_LANGUAGES = ("bash", "sh", "shell", "console")
# flags whose value is a file or directory the command reads (outputs such as --out are not checked)
INPUT_FLAGS = {"--scenario", "--slo", "--plan", "--ca-file", "--rate-timeline", "-f", "--locustfile"}
# the positional arguments that are input directories, per command
INPUT_POSITIONALS = {"gate": 1, "report": 1, "compare": 2}


@dataclass(frozen=True)
class Command:
    where: str  # file:line
    argv: tuple[str, ...]  # from the program's name on, environment assignments dropped

    @property
    def program(self) -> str:
        return Path(self.argv[0]).name


def _segments(line: str) -> list[list[str]]:
    """The simple commands of one shell line: split at ``&&``, ``||``, ``;``, ``|`` and ``&``."""
    lexer = shlex.shlex(line, posix=True, punctuation_chars=";&|")
    lexer.whitespace_split = True
    lexer.commenters = "#"
    out: list[list[str]] = [[]]
    for token in lexer:
        if token and set(token) <= set(";&|"):
            out.append([])
        else:
            out[-1].append(token)
    return [s for s in out if s]


def _commands(text: str, where: str, first_line: int) -> list[Command]:
    if not re.search(r"\b(ingestbench|locust)\b", text):
        return []  # not a line of ours, and perhaps not shell at all (a fence without a language)
    try:
        segments = _segments(text)
    except ValueError as exc:
        raise ValueError(f"{where}:{first_line}: {exc}: {text}") from None
    found = []
    for segment in segments:
        while segment and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*=.*", segment[0]):
            segment = segment[1:]  # an environment assignment before the command
        if segment and Path(segment[0]).name in ("ingestbench", "locust"):
            found.append(Command(f"{where}:{first_line}", tuple(segment)))
    return found


def shell_blocks(text: str) -> list[tuple[int, list[str]]]:
    """The shell code blocks of a Markdown text: (line number of the first line, lines), fences paired in order."""
    blocks, inside, language, start, lines = [], False, "", 0, []
    for number, line in enumerate(text.splitlines(), start=1):
        fence = re.match(r"^```(\S*)", line)
        if fence and not inside:
            inside, language, start, lines = True, fence.group(1), number + 1, []
        elif fence:
            inside = False
            if language in SHELL_LANGUAGES:
                blocks.append((start, lines))
        elif inside:
            lines.append(line)
    return blocks


def doc_commands() -> list[Command]:
    out = []
    for doc in DOCS:
        for line_no, lines in shell_blocks(doc.read_text(encoding="utf-8")):
            logical, start = "", line_no
            for i, line in enumerate(lines):
                if not logical:
                    start = line_no + i
                if line.rstrip().endswith("\\"):
                    logical += line.rstrip()[:-1] + " "
                    continue
                out += _commands(logical + line, doc.relative_to(ROOT).as_posix(), start)
                logical = ""
    for example in EXAMPLES:  # "# Run it:  ingestbench run --scenario ..." in the examples' comments
        for i, line in enumerate(example.read_text(encoding="utf-8").splitlines(), start=1):
            m = re.match(rf"#.*?\s(ingestbench\s+(?:{'|'.join(COMMANDS)})(?:\s.*)?)$", line)
            if m:
                out += _commands(m.group(1), example.relative_to(ROOT).as_posix(), i)
    return out


COMMANDS_SHOWN = doc_commands()


def test_the_documentation_shows_commands_of_every_kind() -> None:
    programs = {(c.program, c.argv[1] if c.program == "ingestbench" else "-f") for c in COMMANDS_SHOWN}
    for expected in (("ingestbench", "run"), ("ingestbench", "probe"), ("ingestbench", "setup"),
                     ("ingestbench", "pipeline"), ("ingestbench", "gate"), ("ingestbench", "compare"),
                     ("ingestbench", "report"), ("ingestbench", "targets"), ("ingestbench", "scenarios"),
                     ("ingestbench", "search"), ("locust", "-f")):
        assert expected in programs, (expected, sorted(programs))


def _is_placeholder(value: str) -> bool:
    return "<" in value or "..." in value or value.isupper()


def _input_files(cmd: Command) -> list[str]:
    """The files and directories the command reads, as written (placeholders such as ``results/<run-id>`` are
    left out; a bare scenario name is looked up by ``--check`` itself)."""
    args, files = list(cmd.argv[1:]), []
    for flag, value in itertools.pairwise(args):
        if flag in INPUT_FLAGS and not _is_placeholder(value) and ("/" in value or value.endswith((".toml", ".py"))):
            files.append(value)
    if cmd.program == "ingestbench":
        positionals = [a for a in args[1:] if not a.startswith("-")]
        files += [p for p in positionals[:INPUT_POSITIONALS.get(args[0], 0)] if not _is_placeholder(p)]
    return files


@pytest.fixture
def doc_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    for key in [k for k in os.environ if k.startswith("INGESTBENCH_")]:
        monkeypatch.delenv(key)
    for key, value in dummy_env().items():
        if key.startswith("INGESTBENCH_"):
            monkeypatch.setenv(key, value)


def _main(argv: list[str]) -> tuple[int, str]:
    """``ingestbench ARGV`` in this process: its exit code and everything it printed."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as exc:  # argparse: --help, or a usage error
            code = int(exc.code or 0)
    return code, out.getvalue() + err.getvalue()


@pytest.mark.parametrize("cmd", COMMANDS_SHOWN, ids=lambda c: f"{c.where} {' '.join(c.argv[:3])}")
@pytest.mark.usefixtures("doc_env")
def test_a_documented_command_works_as_shown(cmd: Command) -> None:
    shown = " ".join(cmd.argv)
    for path in _input_files(cmd):
        assert (ROOT / path).exists(), f"{cmd.where}: `{shown}` names {path}, which does not exist"
    if cmd.program == "locust":
        assert "-f" in cmd.argv, f"{cmd.where}: `{shown}`: the locustfile is given with -f"
        args = list(cmd.argv)
        if "--scenario" in args:
            load_scenario(args[args.index("--scenario") + 1])  # raises naming a scenario that does not resolve
        proc = subprocess.run([str(Path(sys.executable).with_name("locust")), *args[1:], "--list"],
                              capture_output=True, text=True, cwd=ROOT, env=dummy_env(), timeout=60)
        assert proc.returncode == 0 and "IngestUser" in proc.stdout, f"{cmd.where}: `{shown}`:\n{proc.stderr}"
        return
    argv = list(cmd.argv[1:])
    with contextlib.redirect_stderr(io.StringIO()) as err:
        try:
            build_parser(argv[0]).parse_args(argv)
        except SystemExit as exc:
            pytest.fail(f"{cmd.where}: `{shown}` does not parse (exit {exc.code}): {err.getvalue().strip()}")
    extra = "--check" if argv[0] in ("run", "probe", "search") else "--help"
    argv = [a for a in argv if a != "--connect"]  # it writes to the target: only its --check part runs here
    code, output = _main([*argv, extra])
    assert code == 0, f"{cmd.where}: `{shown} {extra}` exited {code}:\n{output[-2000:]}"
    assert "dummy-" not in output  # no secret's value is ever printed


def _anchors(markdown: str) -> set[str]:
    return {re.sub(r"[^a-z0-9 -]", "", h.lower()).replace(" ", "-") for h in re.findall(r"^#+ (.*)$", markdown, re.M)}


@pytest.mark.parametrize("doc", [ROOT / "README.md", ROOT / "docs" / "targets.md"], ids=lambda p: p.name)
def test_internal_links_lead_somewhere(doc: Path) -> None:
    text = doc.read_text(encoding="utf-8")
    anchors = _anchors(text)
    for anchor in set(re.findall(r"\]\(#([^)]+)\)", text)):
        assert anchor in anchors, f"{doc.name}: link to #{anchor}, which is no heading"
    for link in set(re.findall(r"\]\((?!https?:|#)([^)#]+)", text)):
        assert (doc.parent / link).exists(), f"{doc.name}: link to {link}, which does not exist"
