"""Peak memory of ``colorize train --jobs 2`` on a shard folder: the parent and its two workers.

Polls /proc every 50 ms for the process tree of the command and reports, per
process, the peak resident set (VmHWM) and, over the whole tree, the largest
sums seen at one moment of the anonymous memory (RssAnon: the process's own
copies) and of the proportional set size (Pss: pages shared between the
processes, like a memory-mapped shard in the page cache, are split among
them, so the sum is what the machine holds). Linux only.

    python3 benchmarks/bench_memory.py SHARD_FOLDER [--iterations 3] [--arch small]
"""
import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def memory_fields(pid: int) -> dict:
    """VmHWM, RssAnon, RssFile (status) and Pss (smaps_rollup) of ``pid``, in kB; {} once it is gone."""
    out = {}
    try:
        for name in ("status", "smaps_rollup"):
            for line in Path(f"/proc/{pid}/{name}").read_text().splitlines():
                key, _, value = line.partition(":")
                if key in ("VmHWM", "RssAnon", "RssFile", "Pss"):
                    out[key] = int(value.split()[0])
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return {}
    return out


def _tree(root: int) -> list[int]:
    """``root`` and its descendants."""
    parents = {}
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            ppid = next(int(line.split()[1]) for line in status.read_text().splitlines() if line.startswith("PPid:"))
        except (FileNotFoundError, ProcessLookupError, StopIteration):
            continue
        parents[int(status.parent.name)] = ppid
    tree, grown = {root}, True
    while grown:
        more = {pid for pid, ppid in parents.items() if ppid in tree} - tree
        tree |= more
        grown = bool(more)
    return sorted(tree)


def measure(command: list[str]) -> dict:
    """Run ``command``; return per-process peaks and the tree's largest simultaneous sums (kB)."""
    proc = subprocess.Popen(command)
    peaks, largest = {}, {"RssAnon": 0, "Pss": 0}
    while proc.poll() is None:
        now = {pid: memory_fields(pid) for pid in _tree(proc.pid)}
        for pid, fields in now.items():
            if fields:
                peaks[pid] = max(peaks.get(pid, 0), fields.get("VmHWM", 0))
        for key in largest:
            largest[key] = max(largest[key], sum(f.get(key, 0) for f in now.values()))
        time.sleep(0.05)
    if proc.returncode:
        raise SystemExit(f"error: {' '.join(command)} exited with {proc.returncode}")
    return {"peaks": peaks, **largest}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("shards", type=Path)
    parser.add_argument("--iterations", type=int, default=3)
    parser.add_argument("--arch", default="small")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        found = measure([sys.executable, "-m", "colorize", "train", str(args.shards), "-o", f"{tmp}/m.npz",
                         "--jobs", "2", "--iterations", str(args.iterations), "--arch", args.arch])
    mb = 1024
    print("peak RSS (VmHWM) per process, MB: " + ", ".join(f"{kb / mb:.0f}" for kb in found["peaks"].values())
          + f"; sum {sum(found['peaks'].values()) / mb:.0f}")
    print(f"largest simultaneous sum over the processes, MB: RssAnon {found['RssAnon'] / mb:.0f}, "
          f"Pss {found['Pss'] / mb:.0f}")


if __name__ == "__main__":
    main()
