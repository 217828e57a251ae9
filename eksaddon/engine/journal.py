"""The upgrade journal: the plan, its fingerprint, and each step's state, saved after every change.

A journal lets a rerun pick up where a stopped or killed upgrade left off: finished steps are
skipped and an in-flight update is followed by its id (or re-sent with the same
clientRequestToken, which EKS answers with the same update), never issued twice.
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from eksaddon.engine.state import write_json_atomically
from eksaddon.errors import EksAddonError, InputError, JournalMismatchError, UpgradeStoppedError
from eksaddon.planner import Plan
from eksaddon.versions import AddonVersion

JOURNAL_VERSION = 1

PENDING = "pending"
SENDING = "sending"  # update_addon sent or about to be; its response may not have been recorded
IN_FLIGHT = "in-flight"
SUCCEEDED = "succeeded"
FAILED = "failed"

RUNNING = "running"
STOPPED = "stopped"
FINISHED = "finished"


def now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def journal_path(directory: Path, *, region: str, cluster: str, addon: str) -> Path:
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in f"{region}_{cluster}_{addon}")
    return directory / "journals" / f"{safe}.json"


def backup_path(
    directory: Path, *, region: str, cluster: str, addon: str, suffix: str = ""
) -> Path:
    """Where a backup taken now is written; the UTC stamp keeps every run's backup apart."""
    return directory / "backups" / f"{region}_{cluster}_{addon}_{_stamp()}{suffix}.json"


def _stamp() -> str:
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())


def fingerprint(document: dict[str, Any]) -> str:
    """SHA-256 of what identifies an upgrade: where, what, and the exact steps."""
    identity = {k: document[k] for k in ("region", "cluster", "addon")}
    identity["steps"] = [[s["from"], s["to"]] for s in document["steps"]]
    identity["kubernetes_version"] = document["plan"]["kubernetes_version"]
    if "run_id" in document:
        # Journals with run ids also seal what every step sends and where the backup is: an
        # edited configuration value would otherwise go to EKS unchecked. (Journals written
        # before run ids existed are sealed as they were.)
        identity["run_id"] = document["run_id"]
        identity["settings"] = document.get("settings")
        identity["backup"] = document.get("backup")
    canonical = json.dumps(identity, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


class Journal:
    """One upgrade's journal on disk. Every mutation is saved before it returns."""

    def __init__(self, path: Path, document: dict[str, Any]) -> None:
        self.path = path
        self.document = document

    @classmethod
    def create(
        cls,
        path: Path,
        *,
        plan: Plan,
        region: str,
        cluster: str,
        settings: dict[str, Any],
        backup: Path,
    ) -> Journal:
        """A new journal, written whole at once: plan, settings and backup path together (a
        process killed right after creating it must not leave a journal without its backup)."""
        document: dict[str, Any] = {
            "journal_version": JOURNAL_VERSION,
            "region": region,
            "cluster": cluster,
            "addon": plan.addon,
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
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError, RecursionError) as error:
            reason = "nested too deeply" if isinstance(error, RecursionError) else str(error)
            raise JournalMismatchError(
                f"journal {path} cannot be read ({reason})",
                hint="move it aside, or rerun with --discard-journal to plan afresh",
            ) from None
        if not _well_formed(document) or fingerprint(document) != document.get("fingerprint"):
            raise JournalMismatchError(
                f"journal {path} is damaged or was edited (its fingerprint does not match "
                "its plan)",
                hint="move it aside, or rerun with --discard-journal to plan afresh",
            )
        return cls(path, document)

    @classmethod
    def load_unfinished(cls, path: Path, *, discard: bool) -> tuple[Journal | None, Path | None]:
        """The journal to resume at ``path`` (None if there is none), and where a finished or
        discarded one was moved aside (None if nothing was moved)."""
        journal = cls.load(path)
        if journal is not None and (journal.state == FINISHED or discard):
            return None, journal.archive()
        return journal, None

    @property
    def state(self) -> str:
        return str(self.document["state"])

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
            self.set(state=STOPPED, last_error="interrupted")
            raise interrupted() from None
        except EksAddonError as error:
            self.set(state=STOPPED, last_error=error.one_line())
            if isinstance(error, UpgradeStoppedError):
                raise
            raise stopped(error) from error
        self.set(state=FINISHED)

    def save(self) -> None:
        self.document["updated_at"] = now()
        write_json_atomically(self.path, self.document)

    def archive(self) -> Path:
        """Move the journal aside (kept for the record) so a new upgrade can start."""
        target = self.path.with_name(f"{self.path.stem}.{_stamp()}.{self.state}.json")
        self.path.replace(target)
        return target


STEP_STATES = (PENDING, SENDING, IN_FLIGHT, SUCCEEDED, FAILED, "applied")


def _well_formed(document: Any) -> bool:
    """Every field the engines read has the type they expect (then the fingerprint is checked):
    a journal edited into another shape is refused as damaged, never half-followed."""
    if not isinstance(document, dict) or document.get("journal_version") != JOURNAL_VERSION:
        return False
    plan, steps = document.get("plan"), document.get("steps")
    return (
        all(isinstance(document.get(k), str) for k in ("region", "cluster", "addon"))
        and document.get("state") in (RUNNING, STOPPED, FINISHED)
        and isinstance(document.get("run_id", ""), str)
        # Every change is preceded by a backup, and the journal is created naming it.
        and isinstance(document.get("backup"), str)
        and bool(document["backup"])
        and isinstance(document.get("settings"), dict)
        and isinstance(plan, dict)
        and all(
            isinstance(plan.get(k), str)
            for k in ("kubernetes_version", "addon_type", "from", "to", "requested")
        )
        and _versions(plan["from"], plan["to"])
        and isinstance(steps, list)
        and bool(steps)
        and all(_well_formed_step(step, index) for index, step in enumerate(steps, start=1))
    )


def _well_formed_step(step: Any, index: int) -> bool:
    return (
        isinstance(step, dict)
        and step.get("index") == index
        and step.get("state") in STEP_STATES
        and isinstance(step.get("from"), str)
        and isinstance(step.get("to"), str)
        and _versions(step["from"], step["to"])
        and isinstance(step.get("update_id"), str | None)
        and type(step.get("attempt", 1)) is int
        and step.get("attempt", 1) >= 1
        and isinstance(step.get("errors", []), list)
    )


def _versions(*texts: str) -> bool:
    try:
        for text in texts:
            AddonVersion.parse(text)
    except InputError:
        return False
    return True
