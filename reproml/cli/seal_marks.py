"""How listings mark a run whose record no longer matches its seal (`reproml.runs.seal`).

``runs`` and ``leaderboard`` check every listed run cheaply (the record's parts re-hashed,
artifacts by size; ``verify`` re-hashes everything): a tampered run's status gets a ``!`` and one
line under the table names what changed. Unsealed (legacy) and running runs are not marked.
"""

from __future__ import annotations

from typing import Any

from reproml.runs.record import RunRecord
from reproml.runs.seal import SealCheck, check_run

TAMPERED_MARK = "!"


def seal_checks(store: Any, runs: list[RunRecord]) -> dict[str, SealCheck]:
    """Return ``{run id: SealCheck}`` of `runs`, artifacts compared by size only."""
    return {run.run_id: check_run(store, run, full=False) for run in runs}


def marked_status(run: RunRecord, check: SealCheck | None) -> str:
    """Return the status to list: ``COMPLETED!`` when the record no longer matches its seal."""
    tampered = check is not None and check.tampered
    return run.shown_status + (TAMPERED_MARK if tampered else "")


def tampered_lines(checks: dict[str, SealCheck], shown: list[str]) -> list[str]:
    """Return one line per tampered run among the `shown` ids, naming what changed."""
    return [
        f"{TAMPERED_MARK} run {run_id}: {checks[run_id].summary()} "
        f"(`reproml verify {run_id}` re-hashes every file)"
        for run_id in shown
        if run_id in checks and checks[run_id].tampered
    ]


def seal_line(check: SealCheck) -> str:
    """Return the ``seal`` line of ``show``: sealed (by which key), unsealed, running, TAMPERED."""
    if check.state == "sealed":
        signed = f", signed by key {check.key_id}" if check.key_id else ", unsigned"
        return f"sealed sha256:{(check.digest or '')[:16]}...{signed}"
    if check.state == "running":
        return "not yet (running: sealed when it ends)"
    if check.state == "unsealed":
        return "unsealed (recorded before sealing, or a store failed during the run)"
    return check.summary()
