"""The chapters in docs/ are executed: every ```python / ```pycon block, in order,
and the debugger session of HOW-VCNN-WORKS.md.

All blocks of one chapter share one namespace, as in a reader's session, run
from the root of the repository. ``pycon`` blocks are doctests (``>>>``
prompts and the expected output, compared with NORMALIZE_WHITESPACE |
ELLIPSIS); ``python`` blocks are executed and must not raise. A block in any
other language that looks like Python would be skipped silently, so the fence
languages themselves are checked too.
"""
import doctest
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
CHAPTERS = {"HOW-VCNN-WORKS.md": 19, "HOW-COLORIZE-WORKS.md": 6}    # chapter: fewest runnable blocks
FENCE = re.compile(r"^```([^\n`]*)\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)
RUN = ("python", "pycon")
SKIP = ("", "text", "console")         # not executed: diagrams and shell sessions
FLAGS = doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS


def code_blocks(text: str):
    """[(language, line of the first code line, source)] of every fenced block."""
    return [(m.group(1).strip(), text.count("\n", 0, m.start(2)) + 1, m.group(2))
            for m in FENCE.finditer(text)]


def run_blocks(text: str, name: str):
    """Run the python/pycon blocks of ``text`` in one namespace.

    Returns (number of doctest examples run, failure report or ""). A
    ``python`` block that raises propagates its exception, naming its line.
    """
    namespace = {"__name__": "docs"}
    parser = doctest.DocTestParser()
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    report = []
    saved = np.get_printoptions()        # a block may set print options: leave none behind
    try:
        for language, line, source in code_blocks(text):
            if language == "python":
                exec(compile(source, f"{name}, line {line}", "exec"), namespace)
            elif language == "pycon":
                test = parser.get_doctest(source, namespace, f"{name}, line {line}", name, line - 1)
                if not test.examples:
                    report.append(f"{name}, line {line}: a pycon block without >>> examples\n")
                runner.run(test, out=report.append, clear_globs=False)
                namespace = test.globs   # DocTest ran on a copy: carry its names to the next block
    finally:
        np.set_printoptions(**saved)
    return runner.tries, "".join(report)


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_the_chapter_has_code_blocks_in_known_languages(chapter):
    blocks = code_blocks((ROOT / "docs" / chapter).read_text(encoding="utf-8"))
    unknown = [(language, line) for language, line, _ in blocks if language not in RUN + SKIP]
    assert not unknown, f"fences must be one of {RUN + SKIP}, got (language, line) {unknown}"
    assert sum(language in RUN for language, _, _ in blocks) >= CHAPTERS[chapter]


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_every_block_runs_and_prints_what_the_chapter_says(chapter, monkeypatch):
    monkeypatch.chdir(ROOT)
    examples, failures = run_blocks((ROOT / "docs" / chapter).read_text(encoding="utf-8"), chapter)
    assert not failures, failures
    assert examples >= 2 * CHAPTERS[chapter]


def test_the_runner_catches_a_wrong_output_and_a_raising_block():
    wrong = "```pycon\n>>> x = 2\n>>> x + 2\n5\n```\n"
    examples, failures = run_blocks(wrong, "wrong.md")
    assert examples == 2 and "Expected:\n    5\nGot:\n    4" in failures
    shared = "```python\ny = 3\n```\n\n```pycon\n>>> y * 2\n6\n```\n"
    assert run_blocks(shared, "shared.md") == (1, "")
    with pytest.raises(ZeroDivisionError):
        run_blocks("```python\n1 / 0\n```\n", "raising.md")
    assert "without >>> examples" in run_blocks("```pycon\nprint(1)\n```\n", "prose.md")[1]


def pdb_session(text: str):
    """(script, commands, expected output) of the console block that runs ``python -m pdb``.

    The transcript shows each command after its ``(Pdb)`` prompt; pdb reading
    from a pipe prints the prompt alone, so the expected output drops them.
    """
    block = next(source for language, _, source in code_blocks(text)
                 if language == "console" and "python -m pdb" in source)
    script = block.split("$ cat step.py\n")[1].split("\n$ ")[0] + "\n"
    transcript = block.split("python -m pdb step.py\n")[1]
    commands = re.findall(r"^\(Pdb\) (.*)$", transcript, re.MULTILINE)
    expected = re.sub(r"^\(Pdb\) .*\n", "(Pdb) ", transcript, flags=re.MULTILINE)
    return script, commands, expected


@pytest.mark.slow
def test_the_debugger_session_prints_what_the_chapter_says(tmp_path):
    script, commands, expected = pdb_session((ROOT / "docs" / "HOW-VCNN-WORKS.md").read_text(encoding="utf-8"))
    (tmp_path / "step.py").write_text(script)
    env = {**os.environ, "NUMBA_DISABLE_JIT": "1", "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-m", "pdb", "step.py"], input="\n".join(commands) + "\n",
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    checker = doctest.OutputChecker()
    assert checker.check_output(expected, done.stdout, doctest.ELLIPSIS), \
        f"expected:\n{expected}\ngot:\n{done.stdout}"


def test_the_session_parser_drops_the_commands_from_the_expected_output():
    text = "```console\n$ cat step.py\nx = 1\n$ NUMBA_DISABLE_JIT=1 python -m pdb step.py\n" \
           "> .../step.py(1)<module>()\n(Pdb) p x + 1\n2\n(Pdb) quit\n```\n"
    assert pdb_session(text) == ("x = 1\n", ["p x + 1", "quit"], "> .../step.py(1)<module>()\n(Pdb) 2\n(Pdb) ")
