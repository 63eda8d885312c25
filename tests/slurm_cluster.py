"""Start and stop a real one-node Slurm cluster for the tests (root, Debian's slurm-wlm).

Everything Slurm writes goes under one temporary folder; clients find the
cluster through SLURM_CONF, so a machine's own /etc/slurm is never touched.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

BINARIES = ("sbatch", "squeue", "sinfo", "slurmctld", "slurmd", "munged", "munge")


def missing_binaries() -> list[str]:
    return [name for name in BINARIES if shutil.which(name) is None]


class SlurmError(RuntimeError):
    pass


class LocalSlurm:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.conf = root / "slurm.conf"
        self.started: list[Path] = []  # pid files of the daemons we started
        self.env = {**os.environ, "SLURM_CONF": str(self.conf)}

    def start(self) -> None:
        if os.geteuid() != 0:
            raise SlurmError("starting Slurm daemons needs root")
        self._start_munge()
        self._write_conf()
        for daemon in ("slurmctld", "slurmd"):
            pid_file = self.root / f"{daemon}.pid"
            self._run([daemon, "-f", str(self.conf)])
            self.started.append(pid_file)
        self._wait_idle()

    def stop(self) -> None:
        for pid_file in reversed(self.started):
            _kill_from(pid_file)
        self.started.clear()

    # -- munge -------------------------------------------------------------------------

    def _start_munge(self) -> None:
        if self._munge_works():
            return  # a munged is already serving this machine: use it, leave it running
        user = pwd.getpwnam("munge")
        key = Path("/etc/munge/munge.key")
        if not key.exists():
            key.parent.mkdir(parents=True, exist_ok=True)
            key.write_bytes(os.urandom(1024))
            os.chown(key, user.pw_uid, user.pw_gid)
            key.chmod(0o400)
        for folder in ("/run/munge", "/var/log/munge", "/var/lib/munge"):
            Path(folder).mkdir(parents=True, exist_ok=True)
            os.chown(folder, user.pw_uid, user.pw_gid)
        self._run(["runuser", "-u", "munge", "--", "munged"])
        self.started.append(Path("/run/munge/munged.pid"))
        deadline = time.time() + 10
        while not self._munge_works():
            if time.time() > deadline:
                raise SlurmError("munged did not start")
            time.sleep(0.1)

    @staticmethod
    def _munge_works() -> bool:
        encode = subprocess.run(["munge", "-n"], capture_output=True, check=False)
        if encode.returncode != 0:
            return False
        decode = subprocess.run(["unmunge"], input=encode.stdout, capture_output=True, check=False)
        return decode.returncode == 0

    # -- slurm -------------------------------------------------------------------------

    def _write_conf(self) -> None:
        host = socket.gethostname().split(".")[0]
        cpus = os.cpu_count() or 1
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2**20
        for folder in ("state", "spool", "log"):
            (self.root / folder).mkdir(parents=True, exist_ok=True)
        self.conf.write_text(
            "\n".join(
                [
                    "ClusterName=hydraflow-test",
                    f"SlurmctldHost={host}",
                    "SlurmUser=root",
                    "AuthType=auth/munge",
                    "ProctrackType=proctrack/linuxproc",
                    "TaskPlugin=task/none",
                    "SelectType=select/cons_tres",
                    "SelectTypeParameters=CR_Core",
                    "ReturnToService=2",
                    "MpiDefault=none",
                    "SchedulerType=sched/backfill",
                    "SchedulerParameters=sched_interval=1",
                    "JobCompType=jobcomp/none",
                    "AccountingStorageType=accounting_storage/none",
                    "MinJobAge=300",
                    f"StateSaveLocation={self.root / 'state'}",
                    f"SlurmdSpoolDir={self.root / 'spool'}",
                    f"SlurmctldPidFile={self.root / 'slurmctld.pid'}",
                    f"SlurmdPidFile={self.root / 'slurmd.pid'}",
                    f"SlurmctldLogFile={self.root / 'log' / 'slurmctld.log'}",
                    f"SlurmdLogFile={self.root / 'log' / 'slurmd.log'}",
                    f"NodeName={host} CPUs={cpus} RealMemory={memory} State=UNKNOWN",
                    f"PartitionName=debug Nodes={host} Default=YES MaxTime=INFINITE State=UP",
                    "",
                ]
            )
        )

    def _wait_idle(self) -> None:
        deadline = time.time() + 30
        state = ""
        while time.time() < deadline:
            result = subprocess.run(
                ["sinfo", "-h", "-o", "%t"],
                env=self.env,
                capture_output=True,
                text=True,
                check=False,
            )
            state = result.stdout.strip()
            if state in ("idle", "mix", "alloc"):
                return
            time.sleep(0.3)
        logs = "\n".join(
            p.read_text()[-2000:] for p in (self.root / "log").glob("*.log") if p.exists()
        )
        raise SlurmError(f"the node never became idle (sinfo: {state!r})\n{logs}")

    def _run(self, argv: list[str]) -> None:
        result = subprocess.run(argv, env=self.env, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise SlurmError(f"{' '.join(argv)} failed: {result.stderr.strip()}")


def _kill_from(pid_file: Path) -> None:
    with contextlib.suppress(FileNotFoundError, ValueError):
        pid = int(pid_file.read_text().strip())
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        deadline = time.time() + 10
        while time.time() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.1)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
