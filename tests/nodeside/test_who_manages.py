"""Who manages aws-node, from a backup: only what the evidence shows (issue #11 §1), and drift
from the release's manifest reported as drift, not as customizations (§4)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from eksaddon.compat import MANAGED_PATH, SELF_MANAGED_PATH, Severity, check_compat
from eksaddon.matrix import AddonType, Matrix
from eksaddon.nodeside.detect import Drift, detect
from eksaddon.nodeside.render import render
from eksaddon.versions import AddonVersion, KubernetesVersion
from tests_support import Result, release_daemonset, upstream_daemonset, write_yaml

Run = Callable[..., Result]
HELM_METADATA = {
    "labels": {
        "app.kubernetes.io/managed-by": "Helm",
        "helm.sh/chart": "aws-vpc-cni-1.18.3",
        "app.kubernetes.io/version": "v1.18.3",
    },
    "annotations": {
        "meta.helm.sh/release-name": "aws-vpc-cni",
        "meta.helm.sh/release-namespace": "kube-system",
    },
}
PREINSTALLED_METADATA = {
    "labels": {"app.kubernetes.io/managed-by": "Helm", "helm.sh/chart": "aws-vpc-cni-1.18.3"}
}
LAST_APPLIED_METADATA = {
    "annotations": {"kubectl.kubernetes.io/last-applied-configuration": '{"kind":"DaemonSet"}'}
}


def signals(document: dict[str, Any], matrix: Matrix) -> tuple[AddonType | None, list[str]]:
    detected = detect(document, matrix, label="backup")
    return detected.addon_type, [e.signal for e in detected.type_evidence]


def test_eks_field_manager_means_the_eks_addon(bundled: Matrix) -> None:
    kind, used = signals(release_daemonset("v1.18.3-eksbuild.3", managers=["eks"]), bundled)
    assert kind is AddonType.MANAGED
    assert used[0] == "eks-field-manager"


def test_managed_fields_without_eks_mean_another_owner(bundled: Matrix) -> None:
    document = release_daemonset("v1.18.3-eksbuild.3", managers=["kubectl-client-side-apply"])
    kind, used = signals(document, bundled)
    assert kind is AddonType.SELF_MANAGED
    assert used[0] == "other-field-managers"


def test_an_eks_build_tag_without_managed_fields_is_unknown(bundled: Matrix) -> None:
    # The bug: three backups of clusters with no EKS add-on were called "managed" for the tag.
    detected = detect(release_daemonset("v1.18.3-eksbuild.3"), bundled, label="backup")
    assert detected.addon_type is None
    assert detected.type_name == "unknown"
    assert [e.signal for e in detected.type_evidence] == ["no-managed-fields", "eksbuild-image-tag"]
    assert "--show-managed-fields" in detected.type_basis


@pytest.mark.parametrize(
    ("metadata", "signal"),
    [
        (HELM_METADATA, "helm-release"),
        (PREINSTALLED_METADATA, "preinstalled-chart-labels"),
        (LAST_APPLIED_METADATA, "kubectl-last-applied"),
    ],
)
def test_another_owners_mark_means_self_managed(
    bundled: Matrix, metadata: dict[str, Any], signal: str
) -> None:
    document = release_daemonset("v1.18.3-eksbuild.3", metadata=metadata)
    kind, used = signals(document, bundled)
    assert kind is AddonType.SELF_MANAGED
    assert signal in used
    assert "no-managed-fields" in used  # and the report says what it could not see


def test_the_preinstalled_cni_is_no_helm_release(bundled: Matrix) -> None:
    document = release_daemonset("v1.18.3-eksbuild.3", metadata=PREINSTALLED_METADATA)
    assert detect(document, bundled, label="backup").helm is None


def test_a_helm_release_is_named(bundled: Matrix) -> None:
    detected = detect(release_daemonset("v1.18.3", metadata=HELM_METADATA), bundled, label="b")
    assert detected.helm is not None
    assert (detected.helm.name, detected.helm.namespace) == ("aws-vpc-cni", "kube-system")
    assert (detected.helm.chart_version, detected.helm.app_version) == ("1.18.3", "v1.18.3")


def test_eks_field_manager_outweighs_helm_marks_left_behind(bundled: Matrix) -> None:
    # After a migration the EKS add-on owns the DaemonSet, Helm's annotations stay on it.
    document = release_daemonset("v1.18.3-eksbuild.3", managers=["eks"], metadata=HELM_METADATA)
    detected = detect(document, bundled, label="backup")
    assert detected.addon_type is AddonType.MANAGED
    assert detected.helm is not None


def test_an_unknown_type_checks_both_paths_and_says_which_is_which(bundled: Matrix) -> None:
    detected = detect(release_daemonset("v1.16.4-eksbuild.2"), bundled, label="backup")
    report = check_compat(bundled, kubernetes=KubernetesVersion.parse("1.29"), detected=detected)
    assert report.addon_type is None and report.plan is None
    codes = [f.code for f in report.findings]
    assert "addon-type-unknown" in codes
    behind = [f.message for f in report.findings if f.code == "behind-latest"]
    assert len(behind) == 2
    assert any(m.startswith(MANAGED_PATH) and "v1.18.3-eksbuild.3" in m for m in behind)
    assert any(m.startswith(SELF_MANAGED_PATH) and "latest v1.18.3 " in m for m in behind)
    plans = dict(report.plans)
    managed, self_managed = plans[AddonType.MANAGED], plans[AddonType.SELF_MANAGED]
    assert managed is not None and self_managed is not None
    assert str(managed.target) == "v1.18.3-eksbuild.3"
    assert str(self_managed.current) == "v1.16.4" and str(self_managed.target) == "v1.18.3"


def test_unknown_type_json_names_the_evidence_and_both_plans(
    run: Run, tmp_path: Path, bundled: Matrix
) -> None:
    backup = write_yaml(tmp_path / "aws-node.yaml", release_daemonset("v1.16.4-eksbuild.2"))
    result = run("check-compat", "-k", "1.29", "--daemonset", str(backup), "-o", "json")
    assert result.code == 0, result.err
    document = json.loads(result.out)
    assert document["addon_type"] == "unknown"
    assert document["detected"]["type"] == "unknown"
    evidence = document["detected"]["type_evidence"]
    assert [e["signal"] for e in evidence] == ["no-managed-fields", "eksbuild-image-tag"]
    assert "--show-managed-fields" in evidence[0]["detail"]
    assert document["plan"] is None
    assert set(document["plans"]) == {"managed", "self-managed"}


@pytest.mark.parametrize(
    ("given", "version"), [("managed", "v1.16.4-eksbuild.2"), ("self-managed", "v1.16.4")]
)
def test_type_option_settles_an_unknown_type(
    run: Run, tmp_path: Path, given: str, version: str
) -> None:
    backup = write_yaml(tmp_path / "aws-node.yaml", release_daemonset("v1.16.4-eksbuild.2"))
    result = run(
        "check-compat", "-k", "1.29", "--daemonset", str(backup), "--type", given, "-o", "json"
    )
    assert result.code == 0, result.err
    document = json.loads(result.out)
    assert document["addon_type"] == document["detected"]["type"] == given
    assert document["addon_version"] == version
    assert document["detected"]["type_evidence"][0]["signal"] == "type-option"
    assert document["plan"]["addon_type"] == given
    assert "plans" not in document
    messages = " ".join(f["message"] for f in document["findings"])
    assert MANAGED_PATH not in messages and SELF_MANAGED_PATH not in messages


def test_type_option_against_the_evidence_is_said(bundled: Matrix) -> None:
    detected = detect(
        release_daemonset("v1.18.3-eksbuild.3", managers=["eks"]), bundled, label="backup"
    )
    report = check_compat(
        bundled,
        kubernetes=KubernetesVersion.parse("1.29"),
        detected=detected,
        addon_type=AddonType.SELF_MANAGED,
    )
    assert report.addon_type is AddonType.SELF_MANAGED
    assert report.detected is not None and report.detected.addon_type is AddonType.SELF_MANAGED
    (contradiction,) = [f for f in report.findings if f.code == "type-contradicts-evidence"]
    assert contradiction.severity is Severity.WARNING
    assert "manager 'eks'" in contradiction.message


def test_an_eksbuild_version_as_self_managed_is_its_release(run: Run) -> None:
    # Found: "v1.12.6 does not run on Kubernetes 1.27 (it needs None or later)", exit 1.
    result = run(
        "check-compat",
        "-k",
        "1.27",
        "--addon-version",
        "v1.12.6-eksbuild.2",
        "--type",
        "self-managed",
        "-o",
        "json",
    )
    assert result.code == 0, result.out + result.err
    document = json.loads(result.out)
    assert document["addon_type"] == "self-managed"
    assert document["addon_version"] == "v1.12.6"
    plain = run(
        "check-compat", "-k", "1.27", "--addon-version", "v1.12.6", "--type", "self-managed"
    )
    assert plain.code == 0
    codes = [f["code"] for f in document["findings"]]
    assert "release-of-build" in codes
    assert "None" not in result.out
    assert document["plan"]["from"] == "v1.12.6" and document["plan"]["to"] == "v1.18.3"


# --- §4: drift ------------------------------------------------------------------------------


def _drifted_v1_18_3() -> dict[str, Any]:
    """The real v1.18.3 backup's shape: no node agent, four env vars gone, init CPU removed."""
    document = release_daemonset("v1.18.3", env={"WARM_IP_TARGET": "5"})
    pod = document["spec"]["template"]["spec"]
    pod["containers"] = [c for c in pod["containers"] if c["name"] != "aws-eks-nodeagent"]
    aws_node = pod["containers"][0]
    gone = {"ENABLE_SUBNET_DISCOVERY", "NETWORK_POLICY_ENFORCING_MODE", "VPC_CNI_VERSION"}
    gone.add("AWS_VPC_K8S_CNI_RANDOMIZESNAT")
    aws_node["env"] = [e for e in aws_node["env"] if e["name"] not in gone]
    del pod["initContainers"][0]["resources"]["requests"]["cpu"]
    return document


def test_what_the_release_has_and_the_daemonset_lacks_is_drift(bundled: Matrix) -> None:
    detected = detect(_drifted_v1_18_3(), bundled, label="backup")
    assert set(detected.drift) == {
        Drift("aws-eks-nodeagent", "container", "aws-eks-nodeagent", None),
        Drift("aws-node", "env", "ENABLE_SUBNET_DISCOVERY", "true"),
        Drift("aws-node", "env", "NETWORK_POLICY_ENFORCING_MODE", "standard"),
        Drift("aws-node", "env", "VPC_CNI_VERSION", "v1.18.3"),
        Drift("aws-node", "env", "AWS_VPC_K8S_CNI_RANDOMIZESNAT", "prng"),
        Drift("aws-vpc-cni-init", "resources", "requests.cpu", "25m"),
    }
    # Drift is not a customization: nothing of it is carried as a setting.
    assert [(c.container, c.name) for c in detected.customizations] == [
        ("aws-node", "WARM_IP_TARGET")
    ]


def test_drift_findings_name_each_missing_thing_and_the_remedy(bundled: Matrix) -> None:
    detected = detect(_drifted_v1_18_3(), bundled, label="backup")
    report = check_compat(bundled, kubernetes=KubernetesVersion.parse("1.29"), detected=detected)
    drift = [f for f in report.findings if f.code == "drift"]
    assert len(drift) == 6
    assert all(f.severity is Severity.WARNING for f in drift)
    assert all("render --preserve-from" in f.message for f in drift)
    text = " ".join(f.message for f in drift)
    assert "container aws-eks-nodeagent is absent" in text
    assert "aws-vpc-cni-init lacks resources requests.cpu (25m)" in text
    assert "aws-node lacks env var VPC_CNI_VERSION" in text


def test_render_preserve_from_restores_the_drift(bundled: Matrix) -> None:
    detected = detect(_drifted_v1_18_3(), bundled, label="backup")
    objects = render(
        AddonVersion.parse("v1.18.3"), "us-west-2", customizations=detected.customizations
    )
    rendered = next(o for o in objects if o["kind"] == "DaemonSet")
    again = detect(rendered, bundled, label="rendered")
    assert again.drift == ()
    assert again.customizations == detected.customizations


@pytest.mark.parametrize("version", ["v1.12.6", "v1.15.5", "v1.18.3"])
def test_upstream_manifests_have_no_drift(bundled: Matrix, version: str) -> None:
    detected = detect(upstream_daemonset(version), bundled, label=version)
    assert detected.drift == () and detected.drift_note is None


def test_drift_of_a_release_eksaddon_cannot_render_is_not_guessed(bundled: Matrix) -> None:
    document = release_daemonset("v1.18.3")
    for container in document["spec"]["template"]["spec"]["containers"]:
        container["image"] = container["image"].replace(":v1.18.3", ":v1.99.0")
    detected = detect(document, bundled, label="backup")
    assert detected.drift == ()
    assert detected.drift_note is not None and "v1.99.0" in detected.drift_note


def test_check_compat_reports_the_helm_release(run: Run, tmp_path: Path) -> None:
    backup = write_yaml(
        tmp_path / "aws-node.yaml", release_daemonset("v1.18.3", metadata=HELM_METADATA)
    )
    result = run("check-compat", "-k", "1.29", "--daemonset", str(backup), "-o", "json")
    assert result.code == 0, result.err
    document = json.loads(result.out)
    assert document["detected"]["helm"] == {
        "name": "aws-vpc-cni",
        "namespace": "kube-system",
        "chart": "aws-vpc-cni-1.18.3",
        "chart_version": "1.18.3",
        "app_version": "v1.18.3",
    }
    (finding,) = [f for f in document["findings"] if f["code"] == "helm-release"]
    assert "Helm release aws-vpc-cni in namespace kube-system" in finding["message"]
    table = run("check-compat", "-k", "1.29", "--daemonset", str(backup))
    assert "installed as Helm release aws-vpc-cni" in table.out


def test_an_unknown_type_names_each_paths_plan_in_every_format(run: Run, tmp_path: Path) -> None:
    backup = write_yaml(tmp_path / "aws-node.yaml", release_daemonset("v1.16.4-eksbuild.2"))
    table = run("check-compat", "-k", "1.29", "--daemonset", str(backup))
    assert "vpc-cni v1.16.4-eksbuild.2 (unknown) on Kubernetes 1.29" in table.out
    assert "Upgrade plan if it is the EKS add-on:" in table.out
    assert "Upgrade plan if it is self-managed:" in table.out
    markdown = run("check-compat", "-k", "1.29", "--daemonset", str(backup), "-o", "markdown")
    assert "type: unknown" in markdown.out
    assert "### Upgrade plan if it is the EKS add-on" in markdown.out
    assert "### Upgrade plan if it is self-managed" in markdown.out


def test_no_upstream_file_of_any_release_or_region_has_drift(bundled: Matrix) -> None:
    # Every by-tag file (v1.7.5-v1.23.0, four regions): the release's own DaemonSet lacks nothing.
    import os
    import re

    import yaml

    from tests_support import UPSTREAM_MANIFESTS

    folder = UPSTREAM_MANIFESTS / "by-tag"
    if not folder.is_dir():
        if os.environ.get("CI"):
            pytest.fail(f"{folder} is absent in CI, where ../shared must be present")
        pytest.skip(f"{folder} is absent: the upstream manifests live in ../shared")
    files = sorted(folder.glob("*/*.yaml"))
    assert len(files) >= 4
    for path in files:
        # Some upstream files end lines with a tab, which YAML refuses; the content is the same.
        text = re.sub(r"[ \t]+$", "", path.read_text(encoding="utf-8"), flags=re.M)
        daemonset = next(
            d
            for d in yaml.load_all(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
            if d and d.get("kind") == "DaemonSet"
        )
        detected = detect(daemonset, bundled, label=str(path))
        assert detected.drift == (), (path, detected.drift)
        assert detected.drift_note is None, (path, detected.drift_note)
