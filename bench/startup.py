"""Time `hydraflow run small --dry-run` on a 1-batch job against `python -c pass`.

Target: under 0.12 s above the bare interpreter.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# Time Python as users run it: with bytecode caching on. (Some shells here set
# PYTHONDONTWRITEBYTECODE, which makes every run recompile hydraflow's modules.)
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def best(argv: list[str], cwd: Path, repeat: int = 15) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(argv, cwd=cwd, check=True, stdout=subprocess.DEVNULL, env=ENV)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        (root / "hydraflow.yaml").write_text("jobs:\n  small:\n    run: python app.py\n")
        bare = best([sys.executable, "-c", "pass"], root)
        ours = best([sys.executable, "-m", "hydraflow", "run", "small", "--dry-run"], root)
    print(f"python -c pass:                      {bare * 1000:.0f} ms (median)")
    print(f"hydraflow run small --dry-run:       {ours * 1000:.0f} ms (median)")
    print(f"difference: {(ours - bare) * 1000:.0f} ms  (target < 120 ms)")


if __name__ == "__main__":
    main()
