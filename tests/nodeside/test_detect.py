from __future__ import annotations

from typing import Any

import pytest

from eksaddon.errors import InputFileError
from eksaddon.matrix import AddonType, Matrix
from eksaddon.nodeside.detect import Customization, detect
from eksaddon.versions import AddonVersion
from tests_support import daemonset, upstream_daemonset


@pytest.mark.parametrize("version", ["v1.12.6", "v1.15.5", "v1.18.3"])
def test_upstream_manifests_have_no_customizations(bundled: Matrix, version: str) -> None:
    # The matrix's env/arg defaults must describe the real manifests exactly: no false positives.
    detected = detect(upstream_daemonset(version), bundled, label=version)
    assert detected.version == AddonVersion.parse(version)
    assert detected.addon_type is AddonType.SELF_MANAGED
    assert detected.customizations == ()
    assert detected.features == ()


def test_changed_defaults_and_extra_settings_are_customizations(bundled: Matrix) -> None:
    document = upstream_daemonset("v1.18.3")
    containers = document["spec"]["template"]["spec"]["containers"]
    aws_node = next(c for c in containers if c["name"] == "aws-node")
    agent = next(c for c in containers if c["name"] == "aws-eks-nodeagent")
    for entry in aws_node["env"]:
        if entry["name"] == "ENABLE_PREFIX_DELEGATION":
            entry["value"] = "true"
    aws_node["env"].append({"name": "WARM_IP_TARGET", "value": "5"})
    agent["args"] = [
        a.replace("--enable-network-policy=false", "--enable-network-policy=true")
        for a in agent["args"]
    ]
    detected = detect(document, bundled, label="backup")
    assert set(detected.customizations) == {
        Customization("aws-node", "ENABLE_PREFIX_DELEGATION", "true", "false", "env"),
        Customization("aws-node", "WARM_IP_TARGET", "5", None, "env"),
        Customization("aws-eks-nodeagent", "--enable-network-policy", "true", "false", "arg"),
    }
    assert detected.features == ("network-policy", "prefix-delegation")


def test_version_comes_from_aws_node_not_the_init_container(bundled: Matrix) -> None:
    document = daemonset("v1.18.3-eksbuild.3")
    init = document["spec"]["template"]["spec"]["initContainers"][0]
    init["image"] = init["image"].replace("v1.18.3-eksbuild.3", "v1.9.9-eksbuild.9")
    assert detect(document, bundled, label="x").version == AddonVersion.parse("v1.18.3-eksbuild.3")


@pytest.mark.parametrize(
    ("managers", "tag", "expected", "basis"),
    [
        (["eks", "kubectl"], "v1.18.3-eksbuild.3", AddonType.MANAGED, "manager 'eks'"),
        (["kubectl-client-side-apply"], "v1.18.3-eksbuild.3", AddonType.SELF_MANAGED, "no manager"),
        (None, "v1.18.3-eksbuild.3", None, "the backup has no metadata.managedFields"),
        (None, "v1.18.3", AddonType.SELF_MANAGED, "plain release"),
    ],
)
def test_addon_type(
    bundled: Matrix, managers: list[str] | None, tag: str, expected: AddonType | None, basis: str
) -> None:
    detected = detect(daemonset(tag, managers=managers), bundled, label="x")
    assert detected.addon_type is expected
    assert basis in detected.type_basis


def test_env_from_references_are_described_not_resolved(bundled: Matrix) -> None:
    document = daemonset("v1.18.3")
    env = document["spec"]["template"]["spec"]["containers"][0]["env"]
    env.append({"name": "AWS_SECRET", "valueFrom": {"secretKeyRef": {"name": "s", "key": "token"}}})
    found = {c.name: c for c in detect(document, bundled, label="x").customizations}
    assert found["AWS_SECRET"].value == "<secretKeyRef:token>"


def test_version_specific_defaults(bundled: Matrix) -> None:
    # VPC_CNI_VERSION's default is the release tag itself; a mismatch is a customization.
    document = daemonset("v1.18.3", env={"VPC_CNI_VERSION": "v1.18.3"})
    assert detect(document, bundled, label="x").customizations == ()
    document = daemonset("v1.18.3", env={"VPC_CNI_VERSION": "v1.17.1"})
    assert [c.name for c in detect(document, bundled, label="x").customizations] == [
        "VPC_CNI_VERSION"
    ]


def _without(path: list[str]) -> dict[str, Any]:
    document = daemonset()
    node: Any = document
    for key in path[:-1]:
        node = node[key]
    del node[path[-1]]
    return document


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        ([daemonset()], "holds a list, not a DaemonSet object"),
        ("text", "holds a str"),
        ({**daemonset(), "kind": "Deployment"}, "is a Deployment, not a DaemonSet"),
        ({**daemonset(), "kind": "List"}, "is a List, not a DaemonSet"),
        (_without(["kind"]), "an object with no kind"),
        (
            {**daemonset(), "metadata": {"name": "kube-proxy"}},
            "is DaemonSet 'kube-proxy', not 'aws-node'",
        ),
        (_without(["spec", "template"]), "has no spec.template.spec"),
        (_without(["spec", "template", "spec", "containers"]), "has no 'aws-node' container"),
    ],
)
def test_wrong_documents_are_refused_with_a_reason(
    bundled: Matrix, document: Any, expected: str
) -> None:
    with pytest.raises(InputFileError, match=expected.replace("(", r"\(").replace(")", r"\)")):
        detect(document, bundled, label="backup.yaml")


@pytest.mark.parametrize(
    ("image", "expected"),
    [
        ("602401143452.dkr.ecr.us-west-2.amazonaws.com/amazon-k8s-cni", "has no version tag"),
        ("602401143452.dkr.ecr.us-west-2.amazonaws.com/amazon-k8s-cni:latest", "is not a version"),
        ("quay.io/cilium/cilium:v1.15.0", "is not amazon-k8s-cni; is another CNI installed?"),
        ("", "has no image"),
    ],
)
def test_unusable_images(bundled: Matrix, image: str, expected: str) -> None:
    document = daemonset()
    document["spec"]["template"]["spec"]["containers"][0]["image"] = image
    with pytest.raises(InputFileError, match=expected.replace("?", r"\?")):
        detect(document, bundled, label="x")


def test_image_digest_and_registry_port_are_handled(bundled: Matrix) -> None:
    document = daemonset()
    document["spec"]["template"]["spec"]["containers"][0]["image"] = (
        "mirror.example:5000/eks/amazon-k8s-cni:v1.18.3-eksbuild.3@sha256:" + "a" * 64
    )
    assert detect(document, bundled, label="x").version == AddonVersion.parse("v1.18.3-eksbuild.3")


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("env", {"not": "a list"}, "env is not a list"),
        ("env", [{"value": "x"}], "env has an entry with no name"),
        ("args", "--flag", "args is not a list"),
    ],
)
def test_malformed_container_fields(bundled: Matrix, field: str, value: Any, expected: str) -> None:
    document = daemonset()
    document["spec"]["template"]["spec"]["containers"][0][field] = value
    with pytest.raises(InputFileError, match=expected):
        detect(document, bundled, label="x")
