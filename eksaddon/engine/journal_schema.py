"""The shape of an upgrade journal's document (:mod:`eksaddon.engine.journal`): its version, the
states of the journal and of each step, the cluster identity it records, the fingerprint that
seals it, and the check that every field the engines read has the type they expect.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, NamedTuple

from eksaddon.engine.state import FINISHED as STATE_FINISHED
from eksaddon.errors import InputError
from eksaddon.gateways.protocols import ClusterInfo
from eksaddon.versions import AddonVersion

JOURNAL_VERSION = 2

PENDING = "pending"
SENDING = "sending"  # update_addon sent or about to be; its response may not have been recorded
IN_FLIGHT = "in-flight"
SUCCEEDED = "succeeded"
FAILED = "failed"

RUNNING = "running"
STOPPED = "stopped"
FINISHED = STATE_FINISHED  # one spelling for every journal: state.load_unfinished reads it


class ClusterIdentity(NamedTuple):
    """Which cluster and add-on a journal was made for, as DescribeCluster told it at planning.

    The platform version is kept for the record only: EKS raises it on its own, so it is shown,
    never matched.
    """

    cluster: str
    region: str
    arn: str | None
    addon: str
    kubernetes_version: str
    platform_version: str | None = None

    @classmethod
    def of(cls, cluster: ClusterInfo, addon: str) -> ClusterIdentity:
        return cls(
            cluster.name,
            cluster.region,
            cluster.arn,
            addon,
            str(cluster.version),
            cluster.platform_version,
        )

    def describe(self) -> str:
        return (
            f"cluster {self.cluster} in {self.region} ({self.arn or 'ARN unknown'}), "
            f"{self.addon}, Kubernetes {self.kubernetes_version}"
        )


def fingerprint(document: dict[str, Any]) -> str:
    """SHA-256 of what identifies an upgrade: where, what, and the exact steps."""
    identity = {k: document[k] for k in ("region", "cluster", "addon")}
    identity["identity"] = document.get("identity")
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


STEP_STATES = (PENDING, SENDING, IN_FLIGHT, SUCCEEDED, FAILED, "applied")


def well_formed(document: Any) -> bool:
    """Every field the engines read has the type they expect (then the fingerprint is checked):
    a journal edited into another shape is refused as damaged, never half-followed."""
    if not isinstance(document, dict) or document.get("journal_version") != JOURNAL_VERSION:
        return False
    plan, steps = document.get("plan"), document.get("steps")
    return (
        all(isinstance(document.get(k), str) for k in ("region", "cluster", "addon"))
        and _well_formed_identity(document)
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


def _well_formed_identity(document: dict[str, Any]) -> bool:
    identity = document.get("identity")
    return (
        isinstance(identity, dict)
        and set(identity) == set(ClusterIdentity._fields)
        and all(isinstance(identity[k], str) for k in ("cluster", "region", "addon"))
        and isinstance(identity["kubernetes_version"], str)
        and all(isinstance(identity[k], str | None) for k in ("arn", "platform_version"))
        and all(identity[k] == document[k] for k in ("cluster", "region", "addon"))
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
