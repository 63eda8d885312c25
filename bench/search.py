"""Search jobs against Hydra's Optuna sweeper: 30 trials, two at a time.

Both search ``x`` in [-5, 5] for ``(x-2)^2`` with TPE (seed 0). Two kinds of trials:

- ``varied``: each trial also draws ``size=choice(1,2,3,4,5,6)``, which does not
  change the loss, and sleeps 0.2 × size s. The sweeper launches ``n_jobs`` trials
  and waits for all of them, so a short trial's slot waits for the long one.
  Target: hydraflow at most 0.85× the sweeper's wall time.
- ``equal``: every trial sleeps 0.3 s; only what each trial costs to start counts.
  Target: at most 1.0×.

hydraflow runs each with the default starter and with ``warm: true``. The sweeper
(``hydra-optuna-sweeper``, which pins an older Optuna) runs in its own virtualenv,
made once under ``~/.cache/hydraflow-bench/`` (``--venv`` names another), with the joblib
launcher at ``n_jobs=2``. Beside the wall time: the share of slot time left idle
while trials remained, from the start and end each trial's app stamps, for both.

    python bench/search.py              # 30 trials, 3 rounds (the README's figures)
    python bench/search.py --trials 4 --rounds 1   # a quick check that it works
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# The sweeper's virtualenv, made once, outside the repository.
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "hydraflow-bench"
SWEEPER_PACKAGES = ["hydra-core==1.3.*", "hydra-optuna-sweeper", "hydra-joblib-launcher"]
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}

APP = """\
import json, os, time
import hydra

@hydra.main(version_base=None, config_path=None)
def main(cfg):
    start = time.time()
    time.sleep(float(cfg.unit) * float(cfg.size))
    with open(os.environ["STAMPS"], "a") as f:
        f.write(json.dumps({"start": start, "end": time.time()}) + "\\n")
    return (float(cfg.x) - 2) ** 2

if __name__ == "__main__":
    main()
"""

# (unit seconds, the size word of the space): a varied trial lasts 0.2 × size s.
KINDS = {"varied": ("0.2", "+size=choice(1,2,3,4,5,6)"), "equal": ("0.3", "+size=1")}


def sweeper_python(venv: Path) -> Path:
    """The sweeper's own interpreter, its virtualenv made on first use."""
    python = venv / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "-q", *SWEEPER_PACKAGES], check=True, env=ENV
        )
    return python


def project(root: Path, trials: int) -> None:
    (root / "app.py").write_text(APP)
    jobs = []
    for kind, (unit, size) in KINDS.items():
        for warm in ("false", "true"):
            jobs.append(
                f"  {kind}-{'warm' if warm == 'true' else 'cold'}:\n"
                f"    run: {sys.executable} app.py\n"
                f"    warm: {warm}\n"
                f"    record: true\n"
                f"    metric: value\n"
                f"    goal: minimize\n"
                f"    add: +unit={unit}\n"
                f"    search:\n"
                f"      trials: {trials}\n"
                f"      seed: 0\n"
                f"      space: +x=interval(-5,5) {size}\n"
            )
    (root / "hydraflow.yaml").write_text("jobs:\n" + "".join(jobs))


def hydraflow(root: Path, job: str, stamps: Path) -> float:
    started = time.perf_counter()
    subprocess.run(
        [str(Path(sys.executable).parent / "hydraflow"), "run", job, "-j", "2", "-q"],
        cwd=root,
        env={**ENV, "STAMPS": str(stamps)},
        check=True,
        capture_output=True,
    )
    return time.perf_counter() - started


def sweeper(root: Path, python: Path, kind: str, trials: int, stamps: Path, n: int) -> float:
    unit, size = KINDS[kind]
    argv = [
        str(python),
        "app.py",
        "--multirun",
        "hydra/sweeper=optuna",
        "hydra/launcher=joblib",
        "hydra.launcher.n_jobs=2",
        f"hydra.sweeper.n_trials={trials}",
        "hydra.sweeper.n_jobs=2",
        "hydra.sweeper.direction=minimize",
        "hydra.sweeper.sampler.seed=0",
        f"hydra.sweep.dir=multirun/sweeper/{kind}-{n}",
        "+x=interval(-5,5)",
        size,
        f"+unit={unit}",
    ]
    started = time.perf_counter()
    subprocess.run(
        argv, cwd=root, env={**ENV, "STAMPS": str(stamps)}, check=True, capture_output=True
    )
    return time.perf_counter() - started


def idle_share(stamps: Path, slots: int = 2) -> float:
    """Slot time left idle from the first trial's start to the last trial's start (while
    trials remained), as a share of the slots' time then."""
    runs = [json.loads(line) for line in stamps.read_text().splitlines()]
    first, last = min(r["start"] for r in runs), max(r["start"] for r in runs)
    if last <= first:
        return 0.0
    edges = sorted({first, last, *(r["start"] for r in runs), *(r["end"] for r in runs)})
    edges = [e for e in edges if first <= e <= last]
    idle = 0.0
    for lo, hi in itertools.pairwise(edges):
        middle = (lo + hi) / 2
        busy = sum(r["start"] <= middle < r["end"] for r in runs)
        idle += max(0, slots - busy) * (hi - lo)
    return idle / (slots * (last - first))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--venv", type=Path, default=CACHE / "optuna-sweeper")
    args = parser.parse_args()
    python = sweeper_python(args.venv)
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        project(root, args.trials)
        for kind, target in (("varied", 0.85), ("equal", 1.0)):
            theirs, idle_theirs = [], []
            ours: dict[str, list[float]] = {"cold": [], "warm": []}
            idle_ours: dict[str, list[float]] = {"cold": [], "warm": []}
            for n in range(args.rounds):
                stamps = root / f"sweeper-{kind}-{n}.jsonl"
                theirs.append(sweeper(root, python, kind, args.trials, stamps, n))
                idle_theirs.append(idle_share(stamps))
                for starter in ("cold", "warm"):
                    shutil.rmtree(root / ".hydraflow", ignore_errors=True)
                    stamps = root / f"{kind}-{starter}-{n}.jsonl"
                    ours[starter].append(hydraflow(root, f"{kind}-{starter}", stamps))
                    idle_ours[starter].append(idle_share(stamps))
            base = statistics.median(theirs)
            print(
                f"{kind}: Optuna sweeper (joblib, n_jobs=2) {base:.2f} s,"
                f" idle {statistics.median(idle_theirs):.0%}"
            )
            for starter in ("cold", "warm"):
                wall = statistics.median(ours[starter])
                ratio = wall / base
                verdict = "met" if ratio <= target else "NOT met"
                print(
                    f"  hydraflow -j 2 ({starter}) {wall:.2f} s = {ratio:.2f}x"
                    f" (target <= {target}x: {verdict}),"
                    f" idle {statistics.median(idle_ours[starter]):.0%}"
                )


if __name__ == "__main__":
    main()
