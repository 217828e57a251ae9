"""How a stopped ``cluster-upgrade`` journey reads (:mod:`eksaddon.engine.journey`): an error
before anything changed keeps its own exit code; one after a stage changed the cluster is exit 4
(stopped part-way, journal kept), with the stages' states and the next step.
"""

from __future__ import annotations

from eksaddon.engine import run_journal as runs
from eksaddon.engine.all_addons import AFTER, BEFORE
from eksaddon.engine.control_plane import CONTROL_PLANE
from eksaddon.engine.run_journal import RunJournal
from eksaddon.errors import (
    EksAddonError,
    ExitCode,
    InsightsBlockedError,
    StateDirectoryError,
    UnsafeStateFileError,
    UpgradeStoppedError,
)
from eksaddon.gateways.protocols import ClusterInfo
from eksaddon.versions import KubernetesVersion


def stage_states(journal: RunJournal) -> str:
    return ", ".join(f"{i['name']} {i['state']}" for i in journal.items)


def stopped_error(
    journal: RunJournal, cluster: ClusterInfo, target: KubernetesVersion, error: EksAddonError
) -> EksAddonError:
    """How a stop reads: nothing changed keeps its own code; part-way is exit 4."""
    states = stage_states(journal)
    changed = (
        bool(journal.item(BEFORE).get("changed"))
        or journal.item(CONTROL_PLANE)["state"] != runs.PENDING
        or journal.item(AFTER)["state"] != runs.PENDING
    )
    if error.exit_code in (ExitCode.UPGRADE_STOPPED, ExitCode.INTERRUPTED):
        if isinstance(error, UpgradeStoppedError) and "stages:" not in error.message:
            return UpgradeStoppedError(f"{error.message} (stages: {states})", hint=error.hint)
        return error
    force_hint = (
        f"; if the insights may be overridden, rerun `eksaddon cluster-upgrade --cluster "
        f"{cluster.name} --to {target} --force-upgrade-insights` (it sends EKS's force, "
        "and asks for consent)"
    )
    if isinstance(error, InsightsBlockedError):
        message = (
            f"EKS refused to update the control plane of cluster {cluster.name} to "
            f"Kubernetes {target} because of upgrade insights: {error.message}"
        )
        hint = f"`eksaddon check-compat` lists the insights{force_hint}"
        if not changed:
            return InsightsBlockedError(f"{message}; nothing was changed", hint=hint)
        return UpgradeStoppedError(f"{message} (stages: {states})", hint=hint)
    if not changed:
        return error
    hint = error.hint or f"the journal is kept at {journal.path}; fix the cause, then rerun"
    if isinstance(error, StateDirectoryError | UnsafeStateFileError):
        # Another --state-dir would start over without the journal that follows the update.
        hint = (
            f"the last complete journal is kept at {journal.path}; once {journal.path.parent} "
            f"is writable again (free space), rerun `eksaddon cluster-upgrade --cluster "
            f"{cluster.name} --to {target}` with the same state directory to continue"
        )
    return UpgradeStoppedError(
        f"upgrade of cluster {cluster.name} to Kubernetes {target} stopped: "
        f"{error.message} (stages: {states})",
        hint=hint,
    )
