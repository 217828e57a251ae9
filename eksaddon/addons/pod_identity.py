"""EKS Pod Identity: the agent add-on's profile, and the add-on API's pod identity associations.

The agent (``eks-pod-identity-agent``, a DaemonSet) is tagged with the agent's own release, not
the add-on version: add-on v1.3.10-eksbuild.3 ran image v0.1.37, clusters show 0.1.10, v0.1.31
(../shared/domain/addons/eks-pod-identity-agent.yaml ``image_tag_does_not_match``). So the running
add-on version is never read from the nodes: it comes from DescribeAddon, and eksaddon says so.

Any add-on may own pod identity associations (CreateAddon/UpdateAddon ``podIdentityAssociations``,
insights.yaml ``addon_pod_identity_fields``): ``SERVICE_ACCOUNT=ROLE_ARN`` pairs, checked here
before anything is sent. A non-empty list replaces the add-on's associations; none sent keeps them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from eksaddon.addons.base import DataProfile
from eksaddon.errors import InputError
from eksaddon.gateways.protocols import PodIdentityAssociation
from eksaddon.matrix.model import Workload, WorkloadKind
from eksaddon.versions import ImageTagRule

ADDON = "eks-pod-identity-agent"
OPTION = "--pod-identity-association"
# A Kubernetes service account name is a DNS-1123 subdomain (at most 253 characters).
_SERVICE_ACCOUNT = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
# arn:PARTITION:iam::ACCOUNT:role/[PATH/]NAME (IAM role names: letters, digits and +=,.@_-).
_ROLE_ARN = re.compile(r"arn:aws(-[a-z]+)*:iam::\d{12}:role/([\w+=,.@-]+/)*[\w+=,.@-]{1,64}")


def parse_association(text: str) -> PodIdentityAssociation:
    """``SERVICE_ACCOUNT=ROLE_ARN``; InputError saying which half is wrong."""
    service_account, sep, role_arn = text.partition("=")
    shown = repr(text) if len(text) <= 80 else repr(text[:77] + "...")
    if not sep or not service_account or not role_arn:
        raise InputError(
            f"{OPTION} {shown} is not SERVICE_ACCOUNT=ROLE_ARN",
            hint=f"for example {OPTION} ebs-csi-controller-sa="
            "arn:aws:iam::111122223333:role/AmazonEKS_EBS_CSI_DriverRole",
        )
    if len(service_account) > 253 or _SERVICE_ACCOUNT.fullmatch(service_account) is None:
        raise InputError(
            f"{OPTION} {shown}: {service_account[:60]!r} is not a Kubernetes service account "
            "name (lowercase letters, digits, '-' and '.')"
        )
    if len(role_arn) > 2048 or _ROLE_ARN.fullmatch(role_arn) is None:
        raise InputError(
            f"{OPTION} {shown}: {role_arn[:80]!r} is not an IAM role ARN",
            hint="write arn:aws:iam::ACCOUNT_ID:role/ROLE_NAME",
        )
    return PodIdentityAssociation(service_account, role_arn)


def parse_associations(texts: Iterable[str]) -> tuple[PodIdentityAssociation, ...] | None:
    """Every ``--pod-identity-association``; None when none is given (EKS keeps the add-on's
    associations), InputError when one service account is given two roles."""
    associations = tuple(parse_association(text) for text in texts)
    if not associations:
        return None
    seen: dict[str, str] = {}
    for association in associations:
        earlier = seen.setdefault(association.service_account, association.role_arn)
        if earlier != association.role_arn:
            raise InputError(
                f"{OPTION} gives service account {association.service_account} two roles "
                f"({earlier} and {association.role_arn})",
                hint="one role per service account",
            )
    unique = {a.service_account: a for a in associations}
    return tuple(unique.values())


def agent_workload() -> Workload:
    return Workload(
        kind=WorkloadKind.DAEMONSET,
        namespace="kube-system",
        name=ADDON,
        version_container=ADDON,
        image_tag=ImageTagRule.UNRELATED,
        version_image="eks/eks-pod-identity-agent",
    )


class PodIdentityAgentProfile(DataProfile):
    """The pod identity agent: a DaemonSet whose image tag does not show the add-on version."""

    @property
    def workloads(self) -> tuple[Workload, ...]:
        return self.matrix.workloads or (agent_workload(),)

    @property
    def node_side_note(self) -> str | None:
        return (
            f"{ADDON}'s image tags follow the agent's own releases (add-on v1.3.10-eksbuild.3 "
            "ran image v0.1.37): the running add-on version comes from EKS, never from the "
            "nodes; eksaddon reads no custom settings of the agent on the nodes (only the "
            "configuration values EKS holds are kept)"
        )


def to_journal(
    associations: tuple[PodIdentityAssociation, ...] | None,
) -> list[dict[str, str]] | None:
    """The associations as a run's journal keeps them (None: not sent, EKS keeps them)."""
    if associations is None:
        return None
    return [{"service_account": a.service_account, "role_arn": a.role_arn} for a in associations]


def from_journal(value: object) -> tuple[PodIdentityAssociation, ...] | None:
    """A journal's associations as sent to EKS, each pair checked again (a journal is a file
    anyone can edit); InputError when they are not what eksaddon writes."""
    if value is None:
        return None
    if not isinstance(value, list) or not all(
        isinstance(item, dict)
        and isinstance(item.get("service_account"), str)
        and isinstance(item.get("role_arn"), str)
        for item in value
    ):
        raise InputError("the journal's pod identity associations are not what eksaddon writes")
    return tuple(
        parse_association(f"{item['service_account']}={item['role_arn']}") for item in value
    )


def journal_well_formed(value: object) -> bool:
    try:
        from_journal(value)
    except InputError:
        return False
    return True
