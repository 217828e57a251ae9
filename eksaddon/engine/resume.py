"""Resuming a journal: its plan, checked against the cluster as it is now.

A journal resumes only where the cluster is (its next step starts at the running version, or at
the target when the update may have landed meanwhile), only towards what it was started for, and
only with builds EKS still offers; otherwise nothing is sent and the operator is told how to plan
afresh.
"""

from __future__ import annotations

from collections.abc import Callable

from eksaddon import planner
from eksaddon.engine import journal as journals
from eksaddon.engine.journal import Journal
from eksaddon.errors import JournalMismatchError
from eksaddon.gateways.protocols import ClusterInfo
from eksaddon.matrix.model import AddonType
from eksaddon.planner import Plan, Step
from eksaddon.versions import AddonVersion, KubernetesVersion


def journal_plan(journal: Journal, *, notes: tuple[str, ...] = ()) -> Plan:
    """The plan a journal records."""
    document = journal.document
    return Plan(
        addon=document["addon"],
        addon_type=AddonType(document["plan"]["addon_type"]),
        kubernetes=KubernetesVersion.parse(document["plan"]["kubernetes_version"]),
        current=AddonVersion.parse(document["plan"]["from"]),
        target=AddonVersion.parse(document["plan"]["to"]),
        requested=document["plan"]["requested"],
        steps=tuple(
            Step(AddonVersion.parse(s["from"]), AddonVersion.parse(s["to"])) for s in journal.steps
        ),
        notes=notes,
    )


def resume_plan(
    journal: Journal,
    *,
    live: AddonVersion,
    cluster: ClusterInfo,
    offered: Callable[[], list[AddonVersion]],
    addon: str,
    target: str,
) -> Plan:
    """A managed add-on's journal plan, once it is shown to fit the cluster now."""
    requested = journal.document["plan"]["requested"]
    if target not in (planner.LATEST, requested):
        raise JournalMismatchError(
            f"journal {journal.path} is carrying {addon} to {requested}, not {target}",
            hint="rerun without --to to finish it, or with --discard-journal to plan afresh",
        )
    check_position(journal, live, addon=addon)
    check_still_offered(journal, cluster, offered)
    return journal_plan(journal, notes=(f"resuming the journal at {journal.path}",))


def check_still_offered(
    journal: Journal, cluster: ClusterInfo, offered: Callable[[], list[AddonVersion]]
) -> None:
    """A step that will be sent (again) must be a build EKS offers the cluster now."""
    to_send = [
        s["to"]
        for s in journal.steps
        if s["state"] in (journals.PENDING, journals.FAILED, journals.SENDING)
    ]
    if not to_send:
        return
    available = {str(v) for v in offered()}
    withdrawn = [version for version in to_send if version not in available]
    if withdrawn:
        raise JournalMismatchError(
            f"journal {journal.path} would send {', '.join(withdrawn)}, which EKS no longer "
            f"offers for Kubernetes {cluster.version} on cluster {cluster.name}; nothing "
            "was sent",
            hint=f"{journals.DISCARD_HINT} from the live catalogue",
        )


def check_position(journal: Journal, live: AddonVersion, *, addon: str) -> None:
    """Refuse a journal whose next step does not start where the cluster is."""
    step = journal.next_step()
    if step is None:
        return
    expected = {step["from"]}
    if step["state"] in (journals.SENDING, journals.IN_FLIGHT):
        expected.add(step["to"])  # the update may have finished while we were away
    if str(live) not in expected:
        raise JournalMismatchError(
            f"journal {journal.path} expects {addon} at "
            f"{' or '.join(sorted(expected))} for step {step['index']} of "
            f"{len(journal.steps)}, but cluster {journal.document['cluster']} runs {live}",
            hint="someone changed the add-on meanwhile: check it, then rerun with "
            "--discard-journal to plan afresh",
        )
