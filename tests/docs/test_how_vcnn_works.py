"""docs/HOW-VCNN-WORKS.md is executed: every ```python / ```pycon block, in order.

All blocks share one namespace, as in a reader's session. ``pycon`` blocks are
doctests (``>>>`` prompts and the expected output, compared with
NORMALIZE_WHITESPACE | ELLIPSIS); ``python`` blocks are executed and must not
raise. A block in any other language that looks like Python would be skipped
silently, so the fence languages themselves are checked too.
"""
import doctest
import re
from pathlib import Path

import numpy as np
import pytest

DOC = Path(__file__).resolve().parents[2] / "docs" / "HOW-VCNN-WORKS.md"
FENCE = re.compile(r"^```([^\n`]*)\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)
RUN = ("python", "pycon")
SKIP = ("", "text", "console")         # not executed: diagrams and shell sessions
FLAGS = doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS
MIN_BLOCKS = 15                          # the chapter has ~20; far fewer means it was gutted


def code_blocks(text: str):
    """[(language, line of the first code line, source)] of every fenced block."""
    return [(m.group(1).strip(), text.count("\n", 0, m.start(2)) + 1, m.group(2))
            for m in FENCE.finditer(text)]


def run_blocks(text: str, name: str = DOC.name):
    """Run the python/pycon blocks of ``text`` in one namespace.

    Returns (number of doctest examples run, failure report or ""). A
    ``python`` block that raises propagates its exception, naming its line.
    """
    namespace = {"__name__": "how_vcnn_works"}
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


def test_the_doc_has_code_blocks_in_known_languages():
    blocks = code_blocks(DOC.read_text(encoding="utf-8"))
    unknown = [(language, line) for language, line, _ in blocks if language not in RUN + SKIP]
    assert not unknown, f"fences must be one of {RUN + SKIP}, got (language, line) {unknown}"
    assert sum(language in RUN for language, _, _ in blocks) >= MIN_BLOCKS


def test_every_block_runs_and_prints_what_the_doc_says():
    examples, failures = run_blocks(DOC.read_text(encoding="utf-8"))
    assert not failures, failures
    assert examples >= 3 * MIN_BLOCKS


def test_the_runner_catches_a_wrong_output_and_a_raising_block():
    wrong = "```pycon\n>>> x = 2\n>>> x + 2\n5\n```\n"
    examples, failures = run_blocks(wrong, "wrong.md")
    assert examples == 2 and "Expected:\n    5\nGot:\n    4" in failures
    shared = "```python\ny = 3\n```\n\n```pycon\n>>> y * 2\n6\n```\n"
    assert run_blocks(shared, "shared.md") == (1, "")
    with pytest.raises(ZeroDivisionError):
        run_blocks("```python\n1 / 0\n```\n", "raising.md")
    assert "without >>> examples" in run_blocks("```pycon\nprint(1)\n```\n", "prose.md")[1]
