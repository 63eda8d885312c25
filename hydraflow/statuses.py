"""The words hydraflow uses for how things stand: one ``StrEnum`` per vocabulary.

- ``BatchStatus``: a batch (one process, array task or trial): how an attempt
  ended or stands in the ledger, and what ``hydraflow status`` says of it.
- ``RunStatus``: one Hydra run, as ``hydraflow results`` shows it.
- ``SlurmState``: what Slurm says of an array task.
- ``Skip``: why a claim did not start a batch.

Their values are the words users read and scripts parse (``--json``), so they
are stored and compared as plain strings.
"""

from __future__ import annotations

from enum import IntEnum, StrEnum


class BatchStatus(StrEnum):
    OK = "ok"
    FAILED = "failed"
    TIMEOUT = "timeout"
    INTERRUPTED = "interrupted"
    # Exited 0, but some of its runs left no record that they succeeded (the task
    # called sys.exit or os._exit, or the process was cut short from within).
    INCOMPLETE = "incomplete"
    # A search's trial stopped on purpose: Optuna's pruner said its values were poor.
    PRUNED = "pruned"
    # Beside those endings, how a ledger row can stand.
    RUNNING = "running"
    QUEUED = "queued"
    LOST = "lost"
    CANCELLED = "cancelled"
    # What the status report says of a batch the ledger knows nothing of, and of
    # attempts of a batch the file no longer makes.
    NEVER_RUN = "never run"
    STALE = "stale"

    @property
    def live(self) -> bool:
        """Running or waiting to run somewhere: never start such a batch again."""
        return self in _LIVE

    @property
    def unsuccessful(self) -> bool:
        """An ending that leaves something to do again."""
        return self in _UNSUCCESSFUL


_LIVE = frozenset({BatchStatus.RUNNING, BatchStatus.QUEUED})
_UNSUCCESSFUL = frozenset(
    {
        BatchStatus.FAILED,
        BatchStatus.TIMEOUT,
        BatchStatus.INTERRUPTED,
        BatchStatus.INCOMPLETE,
        BatchStatus.LOST,
        BatchStatus.CANCELLED,
    }
)
LIVE = tuple(sorted(_LIVE))  # for SQL: ``status IN ('queued', 'running')``


class RunStatus(StrEnum):
    OK = "ok"
    FAILED = "failed"
    NOT_RUN = "not run"  # planned, but its batch stopped before it
    UNKNOWN = "unknown"  # no record, and nothing else tells
    QUEUED = "queued"  # its batch runs (or waits), and has not come to it yet
    RUNNING = "running"  # its batch runs, and it has begun without ending yet
    # A run without a record takes its batch's ending where that tells more.
    INTERRUPTED = "interrupted"
    TIMEOUT = "timeout"
    LOST = "lost"
    PRUNED = "pruned"

    @classmethod
    def of_batch(cls, status: BatchStatus) -> RunStatus:
        """What a batch's ending says of a run of it that left no record."""
        return _RUN_OF_BATCH.get(status, cls.UNKNOWN)


_RUN_OF_BATCH = {
    BatchStatus.OK: RunStatus.OK,
    BatchStatus.INTERRUPTED: RunStatus.INTERRUPTED,
    BatchStatus.TIMEOUT: RunStatus.TIMEOUT,
    BatchStatus.PRUNED: RunStatus.PRUNED,
    BatchStatus.LOST: RunStatus.LOST,
    BatchStatus.RUNNING: RunStatus.RUNNING,
    BatchStatus.QUEUED: RunStatus.RUNNING,
}


class SlurmState(StrEnum):
    """The states of ``squeue``/``sacct`` that hydraflow acts on; any other state of a task
    that has left the queue reads as lost."""

    PENDING = "PENDING"
    REQUEUED = "REQUEUED"
    CONFIGURING = "CONFIGURING"
    RESV_DEL_HOLD = "RESV_DEL_HOLD"
    REQUEUE_HOLD = "REQUEUE_HOLD"
    SUSPENDED = "SUSPENDED"
    RUNNING = "RUNNING"
    COMPLETING = "COMPLETING"
    STAGE_OUT = "STAGE_OUT"
    SIGNALING = "SIGNALING"
    RESIZING = "RESIZING"
    COMPLETED = "COMPLETED"
    CANCELLED = "CANCELLED"
    TIMEOUT = "TIMEOUT"
    DEADLINE = "DEADLINE"
    PREEMPTED = "PREEMPTED"
    FAILED = "FAILED"
    NODE_FAIL = "NODE_FAIL"
    OUT_OF_MEMORY = "OUT_OF_MEMORY"
    BOOT_FAIL = "BOOT_FAIL"

    @classmethod
    def read(cls, text: str) -> SlurmState | None:
        """A state as Slurm prints it (``CANCELLED by 0`` is cancelled); None for one
        hydraflow does not know."""
        word = text.split()[0].upper() if text.strip() else ""
        try:
            return cls(word)
        except ValueError:
            return None

    @property
    def batch_status(self) -> BatchStatus:
        """The ledger's word for a task in this state."""
        return _BATCH_OF_SLURM.get(self, BatchStatus.LOST)


_BATCH_OF_SLURM = {
    **dict.fromkeys(
        (
            SlurmState.PENDING,
            SlurmState.REQUEUED,
            SlurmState.CONFIGURING,
            SlurmState.RESV_DEL_HOLD,
            SlurmState.REQUEUE_HOLD,
            SlurmState.SUSPENDED,
        ),
        BatchStatus.QUEUED,
    ),
    **dict.fromkeys(
        (
            SlurmState.RUNNING,
            SlurmState.COMPLETING,
            SlurmState.STAGE_OUT,
            SlurmState.SIGNALING,
            SlurmState.RESIZING,
        ),
        BatchStatus.RUNNING,
    ),
    SlurmState.CANCELLED: BatchStatus.CANCELLED,
    SlurmState.PREEMPTED: BatchStatus.CANCELLED,
    SlurmState.TIMEOUT: BatchStatus.TIMEOUT,
    SlurmState.DEADLINE: BatchStatus.TIMEOUT,
    SlurmState.FAILED: BatchStatus.FAILED,
    SlurmState.NODE_FAIL: BatchStatus.FAILED,
    SlurmState.OUT_OF_MEMORY: BatchStatus.FAILED,
    SlurmState.BOOT_FAIL: BatchStatus.FAILED,
}


class Skip(StrEnum):
    """Why a claim did not start a batch."""

    DONE = "done"  # it succeeded before (``--resume``)
    ELSEWHERE = "elsewhere"  # another live runner, host or the cluster has it


class ExitStatus(IntEnum):
    """How hydraflow ends, as the README's table says."""

    OK = 0
    FAILED = 1  # some batch failed, or hydraflow itself could not go on
    USAGE = 2  # a mistake in the command line or the file: nothing started
    INTERRUPTED = 130  # Ctrl-C or SIGTERM
    OUTPUT_CLOSED = 141  # whoever read the output went away, as a shell says of SIGPIPE
