"""The stand-in's catalogues for every bundled add-on, from the facts the bundled matrices record.

The EKS API offers a build for a cluster only when DescribeAddonVersions(kubernetesVersion=K) lists
it with a compatibility for K; anything else is refused with InvalidParameterException "Addon
version specified is not supported" (../shared/domain/addons/upgrade-rules.yaml,
addon_api_rules.compatibility). The stand-in offers exactly what a source shows offered:

* vpc-cni keeps its own catalogue (:func:`~tests.standins.eks_addons.vpc_cni_catalogue`, a
  build of every minor for Kubernetes 1.23-1.30), which the vpc-cni tests were written against;
* kube-proxy, coredns, aws-ebs-csi-driver and eks-pod-identity-agent offer each build of the
  bundled ``version_matrix/<addon>.yaml`` for the ``kubernetes_versions`` its sources show
  (the EKS user guide tables 2024-02..2024-09 and the 2024-04 capture for 1.29; every build
  with its source there), with ``defaultVersion`` only where a source states the default.
  A build the matrix records with no Kubernetes version (seen pinned, version not stated) is
  not offered anywhere: the stand-in does not guess.

tests/standins/test_catalogues.py checks these offers against ../shared/domain/addons (the
latest-build tables and the 1.29 capture, including its "not compatible" examples), so the
bundled matrix and the stand-in cannot drift from the facts together unnoticed.

An add-on with no bundled matrix: :meth:`AddonCatalogue.offer` (or ``StandIn.offer_addon``).
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from .eks_addons import VPC_CNI, AddonCatalogue, vpc_cni_catalogue

REPO = Path(__file__).resolve().parents[2]
MATRIX_DIR = REPO / "version_matrix"
SHARED_ADDONS = REPO.parent / "shared" / "domain" / "addons"

# The bundled add-ons besides vpc-cni, with the AddonInfo.type EKS gives them.
BUNDLED_ADDONS: Mapping[str, str] = {
    "kube-proxy": "networking",
    "coredns": "networking",
    "aws-ebs-csi-driver": "storage",
    "eks-pod-identity-agent": "security",
}

# DescribeAddonConfiguration's podIdentityConfiguration, where a source shows it:
# aws-ebs-csi-driver v1.31.0-eksbuild.1 -> ebs-csi-controller-sa + AmazonEBSCSIDriverPolicy
# (../shared/domain/addons/aws-ebs-csi-driver.yaml iam_and_pod_identity.pod_identity, from the
# EKS user guide retreive-iam-info.md, 2024-07-25). Builds with requiresIamPermissions but no
# source for their configuration answer [] like every other build.
EBS_CSI_POD_IDENTITY = (
    {
        "serviceAccount": "ebs-csi-controller-sa",
        "recommendedManagedPolicies": [
            "arn:aws:iam::aws:policy/service-role/AmazonEBSCSIDriverPolicy"
        ],
    },
)
POD_IDENTITY_CONFIGURATION: Mapping[tuple[str, str], Sequence[Mapping[str, Any]]] = {
    ("aws-ebs-csi-driver", "v1.31.0-eksbuild.1"): EBS_CSI_POD_IDENTITY,
}
# The add-ons whose controllers need AWS permissions (requiresIamPermissions in the captures).
NEEDS_IAM = frozenset({VPC_CNI, "aws-ebs-csi-driver"})


def matrix_document(addon: str) -> dict[str, Any]:
    """The bundled matrix of ``addon``, parsed: a copy of its own, free to change."""
    return copy.deepcopy(_parsed_matrix(addon))


@functools.cache
def _parsed_matrix(addon: str) -> dict[str, Any]:
    """Each bundled matrix parsed once per test process, shared and read only. A stand-in
    with every catalogue (the fault matrix's CoreDNS cases, one each) parsed four matrices
    with the pure-Python YAML parser, ~0.09 s of CPU a case; the files do not change in a run."""
    document = yaml.safe_load((MATRIX_DIR / f"{addon}.yaml").read_text(encoding="utf-8"))
    assert isinstance(document, dict), addon
    return document


def add_from_matrix(catalogue: AddonCatalogue, addon: str, addon_type: str) -> None:
    """Offer the builds the bundled matrix shows offered, with the defaults it sources."""
    document = _parsed_matrix(addon)  # only read here
    catalogue.describe_addon(addon, type=addon_type, default_namespace="kube-system")
    defaults: dict[str, list[str]] = {}
    for kubernetes, row in (document.get("kubernetes_versions") or {}).items():
        if isinstance(row, dict) and row.get("default"):
            defaults.setdefault(str(row["default"]), []).append(str(kubernetes))
    # The matrix lists newest first; the catalogue keeps insertion order, oldest first.
    for build in reversed(document.get("builds") or []):
        versions = [str(v) for v in build.get("kubernetes_versions") or []]
        if not versions:
            continue  # seen somewhere, offered for no version a source names
        version = str(build["version"])
        catalogue.add(
            addon,
            version,
            versions,
            default_for=[k for k in defaults.get(version, []) if k in versions],
            requires_iam_permissions=addon in NEEDS_IAM,
            pod_identity=POD_IDENTITY_CONFIGURATION.get((addon, version), ()),
        )


def bundled_catalogue(*, scrambled: bool = True) -> AddonCatalogue:
    """vpc-cni as :func:`vpc_cni_catalogue` plus every other bundled add-on from its matrix."""
    catalogue = vpc_cni_catalogue(scrambled=scrambled)
    for addon, addon_type in BUNDLED_ADDONS.items():
        add_from_matrix(catalogue, addon, addon_type)
    return catalogue
