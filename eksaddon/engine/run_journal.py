"""The journal of a run over several things: ``upgrade --all-addons`` and ``cluster-upgrade``.

An add-on's own journal (:mod:`eksaddon.engine.journal`) records its version steps; a run journal
records which add-ons (or which stages of a journey) a run carries, in order, and how far it got,
so that a rerun skips what is done and resumes what was in flight. Like an add-on's journal it is
bound to one cluster (name, region, ARN, sealed in its fingerprint with the run's id and items)
and written atomically, owner-only, after every change; a damaged or edited one is refused, and
``--discard-journal`` moves it aside.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from pathlib import Path
from typing import Any, NamedTuple

from eksaddon.engine.journal import DISCARD_HINT
from eksaddon.engine.state import FINISHED, JournalFile, now, read_json_document
from eksaddon.errors import JournalMismatchError
from eksaddon.gateways.protocols import ClusterInfo

RUN_JOURNAL_VERSION = 1

PENDING = "pending"
RUNNING = "running"  # started; it may have changed something (its own journal says what)
SUCCEEDED = "succeeded"
FAILED = "failed"
ITEM_STATES = (PENDING, RUNNING, SUCCEEDED, FAILED)

UNFINISHED = "unfinished"


def _stamp() -> str:
    """The time in a moved-aside run journal's name (2024-09-10T070000Z)."""
    return now().replace(":", "")


class RunIdentity(NamedTuple):
    """Which cluster a run journal belongs to, and which run (``kind``) it records."""

    cluster: str
    region: str
    arn: str | None
    kind: str  # e.g. "all-addons before 1.30", "all-addons latest", "cluster-upgrade to 1.30"
    kubernetes_version: str  # the cluster's version when the run began

    @classmethod
    def of(cls, cluster: ClusterInfo, kind: str) -> RunIdentity:
        return cls(cluster.name, cluster.region, cluster.arn, kind, str(cluster.version))

    def describe(self) -> str:
        return f"cluster {self.cluster} in {self.region} ({self.arn or 'ARN unknown'}), {self.kind}"


def run_journal_path(directory: Path, *, region: str, cluster: str, kind: str) -> Path:
    """``<state dir>/journals/<region>_<cluster>__<kind>.json``: beside the add-on journals,
    never the name of one (a double underscore and no add-on is named with spaces)."""
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in f"{region}_{cluster}__{kind}")
    return directory / "journals" / f"{safe}.json"


def _fingerprint(document: dict[str, Any]) -> str:
    sealed = {
        "identity": document.get("identity"),
        "run_id": document.get("run_id"),
        "items": [[i.get("name"), i.get("target")] for i in document.get("items", [])],
        "sealed": document.get("sealed"),
    }
    canonical = json.dumps(sealed, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


class RunJournal(JournalFile):
    """One run's journal on disk; every change is saved before it returns."""

    stamp = staticmethod(_stamp)

    @classmethod
    def create(
        cls,
        path: Path,
        *,
        identity: RunIdentity,
        items: list[dict[str, Any]],
        sealed: dict[str, Any] | None = None,
    ) -> RunJournal:
        """A new journal: ``items`` each have a ``name`` and a ``target`` (sealed), and start
        pending; ``sealed`` holds what the run decided once and must not be edited."""
        document: dict[str, Any] = {
            "run_journal_version": RUN_JOURNAL_VERSION,
            "identity": identity._asdict(),
            "run_id": uuid.uuid4().hex,
            "state": UNFINISHED,
            "created_at": now(),
            "updated_at": now(),
            "sealed": sealed or {},
            "items": [{"state": PENDING, "error": None, **item} for item in items],
        }
        document["fingerprint"] = _fingerprint(document)
        journal = cls(path, document)
        journal.save()
        return journal

    @classmethod
    def load(cls, path: Path) -> RunJournal | None:
        found = read_json_document(path, what="run journal", hint=DISCARD_HINT)
        if found is None:
            return None
        document = found.value
        if not _well_formed(document) or _fingerprint(document) != document.get("fingerprint"):
            raise JournalMismatchError(
                f"run journal {path} is damaged or was edited (its fingerprint does not match)",
                hint=DISCARD_HINT,
            )
        return cls(path, document)

    @property
    def identity(self) -> RunIdentity:
        return RunIdentity(**self.document["identity"])

    @property
    def run_id(self) -> str:
        return str(self.document["run_id"])

    @property
    def sealed(self) -> dict[str, Any]:
        sealed: dict[str, Any] = self.document["sealed"]
        return sealed

    @property
    def items(self) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = self.document["items"]
        return items

    def item(self, name: str) -> dict[str, Any]:
        return next(i for i in self.items if i["name"] == name)

    def check_cluster(self, live: RunIdentity) -> None:
        """Refuse (exit 2) a run journal of another cluster, or of another run."""
        recorded = self.identity
        fields = ("cluster", "region", "arn", "kind")
        if any(getattr(recorded, f) != getattr(live, f) for f in fields):
            raise JournalMismatchError(
                f"run journal {self.path} belongs to {recorded.describe()}, not to "
                f"{live.describe()}; nothing was sent",
                hint=f"a journal is only resumed on its own cluster: {DISCARD_HINT}",
            )

    def update_item(self, item: dict[str, Any], **changes: Any) -> None:
        item.update(changes)
        self.save()

    def finish(self) -> Path:
        """Mark the run finished and move the journal aside (kept for the record)."""
        self.document["state"] = FINISHED
        self.save()
        return self.archive()


# Fields the engines read from an item, and their types (besides name, state and error): an item
# edited into another shape is refused as damaged, never half-followed.
ITEM_FIELDS: dict[str, type | tuple[type, ...]] = {
    "target": str,
    "phase": str,
    "reason": str,
    "version": (str, type(None)),
    "steps_done": int,
    "update_id": (str, type(None)),
    "token": (str, type(None)),
    "backup": (str, type(None)),
    "attempt": int,
    "force": bool,
    "force_consented": bool,
    "changed": bool,
    "errors": list,
}


def _well_formed_item(item: Any) -> bool:
    return (
        isinstance(item, dict)
        and isinstance(item.get("name"), str)
        and item.get("state") in ITEM_STATES
        and isinstance(item.get("error"), str | None)
        and all(
            isinstance(item[key], kind) and not (kind is int and isinstance(item[key], bool))
            for key, kind in ITEM_FIELDS.items()
            if key in item
        )
        and (not isinstance(item.get("attempt"), int) or item["attempt"] >= 1)
    )


def _well_formed(document: Any) -> bool:
    """Every field read has the type expected (then the fingerprint is checked)."""
    if not isinstance(document, dict) or document.get("run_journal_version") != (
        RUN_JOURNAL_VERSION
    ):
        return False
    identity, items = document.get("identity"), document.get("items")
    return (
        isinstance(identity, dict)
        and set(identity) == set(RunIdentity._fields)
        and all(isinstance(identity[k], str) for k in ("cluster", "region", "kind"))
        and isinstance(identity["kubernetes_version"], str)
        and isinstance(identity["arn"], str | None)
        and isinstance(document.get("run_id"), str)
        and document.get("state") in (UNFINISHED, FINISHED)
        and isinstance(document.get("sealed"), dict)
        and isinstance(items, list)
        and all(_well_formed_item(i) for i in items)
        and len({i["name"] for i in items}) == len(items)
    )
