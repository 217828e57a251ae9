"""The upgrade journal: the plan, its fingerprint, and each step's state, saved after every change.

A journal lets a rerun pick up where a stopped or killed upgrade left off: finished steps are
skipped and an in-flight update is followed by its id (or re-sent with the same
clientRequestToken, which EKS answers with the same update), never issued twice.

A journal belongs to one cluster: it records the identity it was made for (:class:`ClusterIdentity`,
sealed in its fingerprint), and a run resumes it only for the cluster DescribeCluster describes
(:func:`check_identity`). Journals of version 1 recorded no cluster ARN: they are refused with a
pointer to ``--discard-journal``, which moves any journal aside, readable or not.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from eksaddon.engine.journal_schema import (
    FAILED,
    FINISHED,
    IN_FLIGHT,
    JOURNAL_VERSION,
    PENDING,
    RUNNING,
    SENDING,
    STEP_STATES,
    STOPPED,
    SUCCEEDED,
    ClusterIdentity,
    fingerprint,
    well_formed,
)
from eksaddon.engine.state import (
    JournalFile,
    now,
    read_json_document,
    read_private_file,
    run_lock,
)
from eksaddon.errors import (
    EksAddonError,
    JournalMismatchError,
    StateDirectoryError,
    UnsafeStateFileError,
    UpgradeStoppedError,
)
from eksaddon.planner import Plan

DISCARD_HINT = "rerun with --discard-journal to plan afresh (it moves the journal aside)"

# The states, the identity and the fingerprint live in journal_schema; importers take them here.
__all__ = [
    "DISCARD_HINT",
    "FAILED",
    "FINISHED",
    "IN_FLIGHT",
    "JOURNAL_VERSION",
    "MATCHED",
    "PENDING",
    "RUNNING",
    "SENDING",
    "STEP_STATES",
    "STOPPED",
    "SUCCEEDED",
    "ClusterIdentity",
    "Journal",
    "backup_path",
    "check_identity",
    "cluster_lock",
    "fingerprint",
    "journal_path",
    "lock_path",
    "now",
]

MATCHED = ("cluster", "region", "arn", "addon")


def check_identity(journal: Journal, live: ClusterIdentity) -> None:
    """Refuse (exit 2) a journal made for another cluster or add-on than ``live``, or for the
    same cluster at another Kubernetes version (its builds may no longer be offered)."""
    recorded = journal.identity
    if any(getattr(recorded, field) != getattr(live, field) for field in MATCHED):
        raise JournalMismatchError(
            f"journal {journal.path} belongs to {recorded.describe()}, not to {live.describe()}; "
            "nothing was sent",
            hint=f"a journal is only resumed on its own cluster: move it back, or {DISCARD_HINT}",
        )
    if recorded.kubernetes_version != live.kubernetes_version:
        raise JournalMismatchError(
            f"journal {journal.path} was planned for Kubernetes {recorded.kubernetes_version}, "
            f"but cluster {live.cluster} now runs Kubernetes {live.kubernetes_version}: the "
            "builds it would send may not be offered any more; nothing was sent",
            hint=f"{DISCARD_HINT} from the live catalogue",
        )


def journal_path(directory: Path, *, region: str, cluster: str, addon: str) -> Path:
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in f"{region}_{cluster}_{addon}")
    return directory / "journals" / f"{safe}.json"


def lock_path(journal: Path) -> Path:
    """The lock file of a journal's cluster and add-on, held for a run's lifetime
    (state.run_lock): ``<state dir>/locks/<region>_<cluster>_<addon>.lock``. Apart from the
    journals, so that a run refused before any change leaves no journals or backups directory."""
    return journal.parent.parent / "locks" / journal.with_suffix(".lock").name


@contextmanager
def cluster_lock(journal: Path, *, cluster: str, addon: str) -> Iterator[None]:
    """Hold the run lock of the cluster and add-on whose journal is ``journal`` (every engine
    that may change the add-on takes this one lock: upgrade, self-managed upgrade, install,
    migrate)."""
    with run_lock(lock_path(journal), what=f"{addon} on cluster {cluster}"):
        yield


def backup_path(
    directory: Path, *, region: str, cluster: str, addon: str, suffix: str = ""
) -> Path:
    """Where a backup taken now is written; the UTC stamp keeps every run's backup apart."""
    return directory / "backups" / f"{region}_{cluster}_{addon}_{_stamp()}{suffix}.json"


def _stamp() -> str:
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())


class Journal(JournalFile):
    """One upgrade's journal on disk. Every mutation is saved before it returns."""

    stamp = staticmethod(_stamp)  # 20240910T070000Z, as in the backups' names

    @classmethod
    def create(
        cls,
        path: Path,
        *,
        plan: Plan,
        identity: ClusterIdentity,
        settings: dict[str, Any],
        backup: Path,
    ) -> Journal:
        """A new journal, written whole at once: plan, settings and backup path together (a
        process killed right after creating it must not leave a journal without its backup)."""
        document: dict[str, Any] = {
            "journal_version": JOURNAL_VERSION,
            "region": identity.region,
            "cluster": identity.cluster,
            "addon": plan.addon,
            "identity": identity._asdict(),
            # Unique per journal: the same plan run again later (after --discard-journal, or a
            # downgrade and a second upgrade) must not reuse the first run's request tokens, or
            # EKS would answer with the old update instead of starting a new one.
            "run_id": uuid.uuid4().hex,
            "state": RUNNING,
            "created_at": now(),
            "updated_at": now(),
            "plan": {
                "kubernetes_version": str(plan.kubernetes),
                "addon_type": str(plan.addon_type),
                "from": str(plan.current),
                "to": str(plan.target),
                "requested": plan.requested,
            },
            "settings": settings,
            "backup": str(backup),
            "steps": [
                {
                    "index": number,
                    "from": str(step.source),
                    "to": str(step.target),
                    "state": PENDING,
                    "update_id": None,
                    "attempt": 1,
                    "started_at": None,
                    "finished_at": None,
                    "errors": [],
                }
                for number, step in enumerate(plan.steps, start=1)
            ],
            "last_error": None,
        }
        document["fingerprint"] = fingerprint(document)
        journal = cls(path, document)
        journal.save()
        return journal

    @classmethod
    def load(cls, path: Path) -> Journal | None:
        """The journal at ``path``, None if there is none; refuses a corrupt or altered one."""
        found = read_json_document(
            path,
            what="journal",
            hint="move it aside, or rerun with --discard-journal to plan afresh",
        )
        if found is None:
            return None
        document = found.value
        if isinstance(document, dict) and document.get("journal_version") == 1:
            raise JournalMismatchError(
                f"journal {path} was written by an older eksaddon and does not record which "
                "cluster it belongs to (its ARN), so it is not resumed",
                hint=f"check the add-on (`eksaddon status`), then {DISCARD_HINT}",
            )
        if not well_formed(document) or fingerprint(document) != document.get("fingerprint"):
            raise JournalMismatchError(
                f"journal {path} is damaged or was edited (its fingerprint does not match "
                "its plan)",
                hint="move it aside, or rerun with --discard-journal to plan afresh",
            )
        return cls(path, document)

    @property
    def identity(self) -> ClusterIdentity:
        return ClusterIdentity(**self.document["identity"])

    def check_backup(self) -> None:
        """The backup the journal names must be there, a regular file of this user, and of the
        journal's own cluster: a rerun reports it as the state to go back to."""
        identity = self.identity
        try:
            content = read_private_file(self.backup)
            document = json.loads(content.decode("utf-8")) if content is not None else None
        except UnsafeStateFileError as error:
            raise JournalMismatchError(error.message, hint=DISCARD_HINT) from None
        except (OSError, ValueError, RecursionError):
            document = None
        if not isinstance(document, dict):
            raise JournalMismatchError(
                f"the backup {self.backup} that journal {self.path} names is missing or cannot "
                "be read",
                hint=f"check the add-on (`eksaddon status`), then {DISCARD_HINT}",
            )
        found = (document.get("cluster"), document.get("region"))
        if found != (identity.cluster, identity.region):
            raise JournalMismatchError(
                f"the backup {self.backup} that journal {self.path} names is of cluster "
                f"{found[0]} in {found[1]}, not {identity.cluster} in {identity.region}",
                hint=DISCARD_HINT,
            )

    @property
    def backup(self) -> Path:
        """The backup taken before the first change."""
        return Path(self.document["backup"])

    @property
    def steps(self) -> list[dict[str, Any]]:
        steps: list[dict[str, Any]] = self.document["steps"]
        return steps

    def token(self, step: dict[str, Any]) -> str:
        """The step's clientRequestToken: the same on every rerun of the same attempt, so EKS
        answers a re-sent request with the update it already started instead of a second one;
        a new attempt (after a failed update) gets a new token."""
        run = self.document.get("run_id") or self.document["fingerprint"]
        return f"eksaddon-{run[:24]}-{step['index']}.{step.get('attempt', 1)}"

    def next_step(self) -> dict[str, Any] | None:
        return next((s for s in self.steps if s["state"] != SUCCEEDED), None)

    def update_step(self, step: dict[str, Any], **changes: Any) -> None:
        step.update(changes)
        self.save()

    def set(self, **changes: Any) -> None:
        self.document.update(changes)
        self.save()

    @contextmanager
    def recording_the_end(
        self,
        *,
        interrupted: Callable[[], EksAddonError],
        stopped: Callable[[EksAddonError], EksAddonError],
    ) -> Iterator[None]:
        """Carry out steps inside; the journal records how that ended before anything is raised.

        Ctrl-C (or SIGTERM) raises ``interrupted()``; an error raises ``stopped(error)``, or
        the error itself when it already is an UpgradeStoppedError; a clean end marks the
        journal finished. Either way a rerun knows whether to resume.
        """
        try:
            yield
        except KeyboardInterrupt:
            self._record_stop("interrupted")
            raise interrupted() from None
        except EksAddonError as error:
            if not isinstance(error, StateDirectoryError | UnsafeStateFileError):
                self._record_stop(error.one_line())
            # (else the journal on disk is the last complete one: writing again would fail too)
            if isinstance(error, UpgradeStoppedError):
                raise
            raise stopped(error) from error
        try:
            self.set(state=FINISHED)
        except (StateDirectoryError, UnsafeStateFileError) as error:
            raise stopped(error) from error

    def _record_stop(self, reason: str) -> None:
        """Record the stop; if the state directory fails now, the stop itself is still raised
        (the journal on disk is the last complete one and says where to resume)."""
        with suppress(StateDirectoryError, UnsafeStateFileError):
            self.set(state=STOPPED, last_error=reason)
