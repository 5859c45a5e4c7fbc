"""benchmarks/bench_memory.py: its /proc poller sees a child's memory."""
import sys
from pathlib import Path

import pytest

from benchmarks.bench_memory import measure


@pytest.mark.skipif(not Path("/proc/self/smaps_rollup").exists(), reason="reads /proc (Linux)")
def test_measure_sees_the_peak_of_a_child_of_the_command():
    """The command starts a child that holds 200 MB for a second: the child's peak is found, not only the parent's."""
    child = "import time; x = bytearray(200 * 2 ** 20); time.sleep(1)"
    found = measure([sys.executable, "-c", f"import subprocess, sys; subprocess.run([sys.executable, '-c', {child!r}])"])
    peaks = sorted(found["peaks"].values())
    assert len(peaks) == 2 and peaks[-1] > 200 * 1024 > peaks[0]
    assert found["RssAnon"] > 200 * 1024
