"""How an ``upgrade --all-addons`` run (:mod:`eksaddon.engine.all_addons`) stops: an error before
anything changed keeps its own exit code; one after an add-on changed (in this run or an earlier
one) is exit 4, or 130 interrupted, with every add-on's state and the rerun that resumes it. A
run-journal write that fails once something was changed is exit 4 too, never the exit 3 of a
state directory before any change.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eksaddon.engine import run_journal as runs
from eksaddon.engine.all_addons_journal import states
from eksaddon.engine.all_addons_records import DONE_EARLIER, AddonOutcome, AddonTarget
from eksaddon.engine.run_journal import RunJournal
from eksaddon.engine.steps import rerun_command
from eksaddon.errors import (
    EksAddonError,
    ExitCode,
    StateDirectoryError,
    UnsafeStateFileError,
    UpgradeInterruptedError,
    UpgradeStoppedError,
)
from eksaddon.gateways.protocols import ClusterInfo


def stopped_before(
    journal: RunJournal | None, target: AddonTarget, error: EksAddonError
) -> EksAddonError:
    """An add-on could not be planned: nothing was sent in this run. If an earlier run
    changed something (its journal records an add-on started), the run is part-way."""
    if journal is None or all(i["state"] == runs.PENDING for i in journal.items):
        return error
    return UpgradeStoppedError(
        f"upgrade of every add-on on cluster {journal.identity.cluster} stopped planning "
        f"{target.addon}: {error.message}; {states(journal)}",
        hint=f"the run journal is kept at {journal.path}; fix the cause, then rerun",
    )


def changed_before(error: EksAddonError, outcomes: Sequence[AddonOutcome]) -> bool:
    """Whether the run had changed something when ``error`` stopped it (the add-on's own
    upgrade stopped part-way, or an add-on was carried, in this run or an earlier one)."""
    return error.exit_code in (ExitCode.UPGRADE_STOPPED, ExitCode.INTERRUPTED) or any(
        o.steps_done > 0 or o.state == DONE_EARLIER for o in outcomes
    )


def stopped(
    journal: RunJournal,
    cluster: ClusterInfo,
    target: AddonTarget,
    error: EksAddonError,
    *,
    command: str,
) -> EksAddonError:
    """How a stop after a change reads: exit 4 (130 interrupted), every add-on's state, and
    ``command``, the rerun that resumes the run."""
    # The add-on's own hint names its own rerun; the run's rerun resumes it and the rest.
    single = f"`{rerun_command(cluster.name, target.addon)}`"
    hint = (error.hint or "").replace(single, f"`{command}`") or (
        f"fix the cause, then rerun `{command}` to resume"
    )
    if error.exit_code == ExitCode.INTERRUPTED:  # stays 130: interrupted, journals kept
        return UpgradeInterruptedError(
            f"upgrade of every add-on on cluster {cluster.name} interrupted at "
            f"{target.addon}: {error.message}; {states(journal)}",
            hint=f"{hint} (run journal {journal.path})",
        )
    return UpgradeStoppedError(
        f"upgrade of every add-on on cluster {cluster.name} stopped at {target.addon}: "
        f"{error.message}; {states(journal)}",
        hint=f"{hint} (run journal {journal.path})",
    )


def record(
    journal: RunJournal,
    cluster: ClusterInfo,
    outcomes: Sequence[AddonOutcome],
    item: dict[str, Any],
    **changes: Any,
) -> None:
    """One run-journal write: a state directory that fails (full, read-only) once something was
    changed stops the run part-way (exit 4), never as the exit 3 of nothing changed."""
    try:
        journal.update_item(item, **changes)
    except (StateDirectoryError, UnsafeStateFileError) as error:
        raise state_failed(journal, cluster, outcomes, error) from error


def state_failed(
    journal: RunJournal,
    cluster: ClusterInfo,
    outcomes: Sequence[AddonOutcome],
    error: StateDirectoryError | UnsafeStateFileError,
) -> EksAddonError:
    if not any(o.steps_done > 0 or o.state == DONE_EARLIER for o in outcomes):
        return error  # nothing changed on the cluster: the state directory's own exit code
    return UpgradeStoppedError(
        f"upgrade of every add-on on cluster {cluster.name} stopped: {error.message} "
        f"(the add-ons already upgraded stay so); {states(journal)}",
        hint=f"the last complete run journal is kept at {journal.path}; once the state "
        "directory is writable again (free space), rerun with the same state directory to resume",
    )
