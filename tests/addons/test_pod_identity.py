"""``--pod-identity-association SERVICE_ACCOUNT=ROLE_ARN`` and the pod identity agent's profile."""

from __future__ import annotations

import pytest

from eksaddon.addons import profile_for
from eksaddon.addons.pod_identity import (
    PodIdentityAgentProfile,
    parse_association,
    parse_associations,
)
from eksaddon.errors import InputError
from eksaddon.gateways.protocols import PodIdentityAssociation
from eksaddon.versions import ImageTagRule

ROLE = "arn:aws:iam::111122223333:role/AmazonEKS_EBS_CSI_DriverRole"


def test_a_pair_is_parsed() -> None:
    assert parse_association(f"ebs-csi-controller-sa={ROLE}") == PodIdentityAssociation(
        "ebs-csi-controller-sa", ROLE
    )


def test_role_paths_and_other_partitions_are_accepted() -> None:
    arn = "arn:aws-us-gov:iam::111122223333:role/eks/addons/ebs-csi"
    assert parse_association(f"sa={arn}").role_arn == arn


@pytest.mark.parametrize(
    ("text", "said"),
    [
        (ROLE, "not SERVICE_ACCOUNT=ROLE_ARN"),
        (f"={ROLE}", "not SERVICE_ACCOUNT=ROLE_ARN"),
        ("sa=", "not SERVICE_ACCOUNT=ROLE_ARN"),
        (f"Bad_Name={ROLE}", "not a Kubernetes service account"),
        ("sa=arn:aws:iam::111122223333:user/alice", "not an IAM role ARN"),
        ("sa=arn:aws:iam::1111:role/x", "not an IAM role ARN"),
    ],
)
def test_bad_pairs_are_refused_naming_the_half(text: str, said: str) -> None:
    with pytest.raises(InputError, match=said):
        parse_association(text)


def test_none_given_means_keep_and_a_repeat_is_folded() -> None:
    assert parse_associations([]) is None
    assert parse_associations([f"a={ROLE}", f"a={ROLE}"]) == (PodIdentityAssociation("a", ROLE),)


def test_two_roles_for_one_service_account_are_refused() -> None:
    other = ROLE.replace("Driver", "Other")
    with pytest.raises(InputError, match="two roles"):
        parse_associations([f"a={ROLE}", f"a={other}"])


def test_the_agent_profile_never_reads_the_version_from_its_image() -> None:
    profile = profile_for("eks-pod-identity-agent")
    assert isinstance(profile, PodIdentityAgentProfile)
    assert profile.workloads[0].image_tag is ImageTagRule.UNRELATED
    assert profile.node_side_note is not None and "v0.1.37" in profile.node_side_note
