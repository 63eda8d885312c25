"""The pool against xargs: 500 batches of `true` with 2 workers, start-up included.

Measured as a user runs it, with the ledger on (the default), against
`xargs -P 2` in the same run; `--no-ledger` is shown beside it. Targets:
the default run ≤ 1.5× xargs; 8 CPU-bound batches ≥ 1.8× faster with -j 2 than -j 1.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

N = 500
ROUNDS = 9
# Python as users run it: with bytecode caching on.
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def once(argv: list[str], cwd: Path, stdin: str | None = None) -> float:
    start = time.perf_counter()
    subprocess.run(
        argv, cwd=cwd, input=stdin, text=True, check=True, stdout=subprocess.DEVNULL, env=ENV
    )
    return time.perf_counter() - start


def clean(root: Path) -> None:
    for name in (".hydraflow", "multirun"):
        shutil.rmtree(root / name, ignore_errors=True)


def main() -> None:
    true = shutil.which("true") or "/bin/true"
    hydraflow = [str(Path(sys.executable).with_name("hydraflow")), "run"]
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        (root / "hydraflow.yaml").write_text(
            f"jobs:\n  many:\n    run: {true}\n    sets:\n      - each: i=1:{N}\n"
            f"  cpu:\n    run: {sys.executable} -c 'sum(range(30_000_000))'\n"
            "    sets:\n      - each: i=1:8\n"
        )
        numbers = "\n".join(map(str, range(N)))
        cases = {
            "xargs -P 2 (baseline)": lambda: once(
                ["xargs", "-P", "2", "-n", "1", true], root, numbers
            ),
            "hydraflow -j 2 (ledger on)": lambda: once([*hydraflow, "many", "-j", "2"], root),
            "hydraflow -j 2 --no-ledger": lambda: once(
                [*hydraflow, "many", "-j", "2", "--no-ledger"], root
            ),
        }
        times: dict[str, list[float]] = {name: [] for name in cases}
        for _ in range(ROUNDS):  # interleaved, so drift hits every case alike
            for name, case in cases.items():
                clean(root)
                times[name].append(case())
        clean(root)
        serial = once([*hydraflow, "cpu", "-j", "1", "--no-ledger"], root)
        parallel = once([*hydraflow, "cpu", "-j", "2", "--no-ledger"], root)
    median = {name: statistics.median(values) for name, values in times.items()}
    base = median["xargs -P 2 (baseline)"]
    print(f"{N} x true, 2 at once, whole command (start-up included), median of {ROUNDS}:")
    for name, value in median.items():
        ratio = "" if value is base else f"  ratio {value / base:.2f}"
        target = "  (target <= 1.5)" if "ledger on" in name else ""
        print(f"  {name:<30} {value:.3f} s{ratio}{target}")
    print(
        f"8 CPU-bound batches: -j 1 {serial:.2f} s, -j 2 {parallel:.2f} s,"
        f" speed-up {serial / parallel:.2f}  (target >= 1.8)"
    )


if __name__ == "__main__":
    main()
