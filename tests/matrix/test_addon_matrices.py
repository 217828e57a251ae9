"""Facts the bundled kube-proxy, CoreDNS, EBS CSI and pod identity agent matrices must hold.

Each is checked against the research data in ../shared/domain/addons (skipped when absent), the way
test_bundled_matrix.py checks vpc-cni: the files must say what the sources say, and no more.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import pytest
import yaml

from eksaddon.matrix import Matrix
from eksaddon.matrix.loader import bundled_addons, load_bundled
from eksaddon.matrix.model import PolicyKind, WorkloadKind
from eksaddon.versions import AddonVersion, ImageTagRule, KubernetesVersion
from tests_support import SHARED

ADDONS = ("kube-proxy", "coredns", "aws-ebs-csi-driver", "eks-pod-identity-agent")
SNAPSHOT = "2024-09-12"
K8S = [f"1.{minor}" for minor in range(23, 31)]


def facts(addon: str) -> dict[str, Any]:
    path = SHARED / "domain" / "addons" / f"{addon}.yaml"
    if not path.is_file():
        pytest.skip(f"{path} is absent: the reference data lives in ../shared, beside the repo")
    return _read_facts(str(path))


@cache
def _read_facts(path: str) -> dict[str, Any]:
    with open(path, encoding="utf-8") as handle:
        document = yaml.load(handle, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    assert isinstance(document, dict)
    return document


def versions(items: list[str]) -> set[AddonVersion]:
    """Versions from a facts list whose items may carry a remark: "v1.29.0-eksbuild.1 (default)"."""
    return {AddonVersion.parse(item.split()[0]) for item in items}


def k8s(text: str) -> KubernetesVersion:
    return KubernetesVersion.parse(text)


@cache
def bundled_matrix(addon: str) -> Matrix:
    # Loaded inside a test (after conftest isolates the environment), once per session, and
    # from the bundled file whatever $EKSADDON_MATRIX says.
    return load_bundled(addon)


@pytest.fixture(params=ADDONS)
def any_matrix(request: pytest.FixtureRequest) -> Matrix:
    return bundled_matrix(request.param)


def test_every_addon_is_bundled() -> None:
    assert set(bundled_addons()) == {"vpc-cni", *ADDONS}


def test_no_catalogue_claims_to_be_complete(any_matrix: Matrix) -> None:
    for entry in any_matrix.kubernetes.values():
        assert not entry.catalogue_complete
        assert entry.complete_through is None


def test_every_build_names_a_defined_source(any_matrix: Matrix) -> None:
    document = _bundled_document(any_matrix.addon)
    defined = set(document["sources"])
    for build in document["builds"]:
        assert build["sources"], build["version"]
        assert set(build["sources"]) <= defined, build["version"]


def _bundled_document(addon: str) -> dict[str, Any]:
    from importlib import resources

    text = resources.files("version_matrix").joinpath(f"{addon}.yaml").read_text(encoding="utf-8")
    document = yaml.safe_load(text)
    assert isinstance(document, dict)
    return document


def test_nothing_after_the_snapshot_is_recorded(any_matrix: Matrix) -> None:
    assert any_matrix.as_of is not None and any_matrix.as_of <= SNAPSHOT


# --- kube-proxy ---


@pytest.fixture
def kube_proxy() -> Matrix:
    return bundled_matrix("kube-proxy")


def test_kube_proxy_latest_is_the_user_guide_table(kube_proxy: Matrix) -> None:
    table = facts("kube-proxy")["latest_per_kubernetes_2024_09"]["eks_addon"]
    assert sorted(table) == K8S == [str(v) for v in sorted(kube_proxy.kubernetes)]
    for kubernetes, latest in table.items():
        entry = kube_proxy.entry(k8s(kubernetes))
        assert entry.latest == AddonVersion.parse(latest)
        assert kube_proxy.builds_for(entry.version)[0] == entry.latest
    assert kube_proxy.entry(k8s("1.30")).latest == AddonVersion.parse("v1.30.3-eksbuild.5")
    assert kube_proxy.entry(k8s("1.23")).latest == AddonVersion.parse("v1.23.17-eksbuild.16")


def test_kube_proxy_builds_of_the_table_history_are_offered(kube_proxy: Matrix) -> None:
    data = facts("kube-proxy")
    retracted = {"v1.28.5-eksbuild.2", "v1.27.9-eksbuild.2", "v1.26.12-eksbuild.2"}
    # The retraction itself is a fact in ../shared: AWS said these were never available.
    assert any(
        "v1.28.5, v1.27.9 and v1.26.12" in n for n in data["version_string_format"]["parsing_notes"]
    )
    checked = 0
    for entry in data["eks_doc_table_history"]["entries"]:
        if "eks_addon" not in entry or entry["date"] > SNAPSHOT:
            continue
        for kubernetes, build in entry["eks_addon"].items():
            if kubernetes not in K8S:
                continue
            offered = kube_proxy.builds_for(k8s(kubernetes))
            assert (AddonVersion.parse(build) in offered) == (build not in retracted), build
            checked += 1
    assert checked > 40
    assert not any(kube_proxy.find_build(AddonVersion.parse(v)) for v in retracted)


def test_kube_proxy_1_29_capture(kube_proxy: Matrix) -> None:
    capture = facts("kube-proxy")["compatibility_k8s_1.29_circa_2024_04"]
    v129 = k8s("1.29")
    assert versions(capture["compatible"]) <= set(kube_proxy.builds_for(v129))
    for version in versions(capture["not_compatible_examples"]):
        assert kube_proxy.known_not_offered(version, v129), version
    default = facts("kube-proxy")["default_versions"]["k8s_1.29_circa_2024_04"]["default"]
    assert kube_proxy.entry(v129).default == AddonVersion.parse(default)
    assert {str(k): e.default for k, e in kube_proxy.kubernetes.items() if e.default} == {
        "1.29": AddonVersion.parse("v1.29.0-eksbuild.1")
    }


def test_kube_proxy_later_tables_are_left_out(kube_proxy: Matrix) -> None:
    for snapshot in facts("kube-proxy")["later_snapshots"]:
        for kubernetes, build in snapshot["eks_addon"].items():
            version = AddonVersion.parse(build)
            if kubernetes in K8S and version > kube_proxy.entry(k8s(kubernetes)).latest:
                assert kube_proxy.find_build(version) is None, build


def test_kube_proxy_policy_is_the_skew_policy(kube_proxy: Matrix) -> None:
    policy = kube_proxy.policy
    assert policy.kind is PolicyKind.KUBERNETES_SKEW and policy.max_minor_step is None
    assert policy.skew is not None
    assert (policy.skew.max_newer, policy.skew.max_older) == (0, 3)
    assert policy.skew.max_older_for(k8s("1.24")) == 2
    assert policy.skew.max_older_for(k8s("1.25")) == 3
    assert not policy.gates


def test_kube_proxy_runs_minimal_images_in_a_daemonset(kube_proxy: Matrix) -> None:
    (workload,) = kube_proxy.workloads
    assert workload.kind is WorkloadKind.DAEMONSET
    assert (workload.namespace, workload.name, workload.version_container) == (
        "kube-system",
        "kube-proxy",
        "kube-proxy",
    )
    assert workload.image_tag is ImageTagRule.MINIMAL_VARIANT
    assert kube_proxy.daemonset is None and not kube_proxy.releases


# --- CoreDNS ---


@pytest.fixture
def coredns() -> Matrix:
    return bundled_matrix("coredns")


def test_coredns_latest_is_the_user_guide_table(coredns: Matrix) -> None:
    table = facts("coredns")["latest_per_kubernetes_2024_09"]["eks_addon"]
    assert sorted(table) == K8S == [str(v) for v in sorted(coredns.kubernetes)]
    for kubernetes, latest in table.items():
        entry = coredns.entry(k8s(kubernetes))
        assert entry.latest == AddonVersion.parse(latest)
        assert coredns.builds_for(entry.version)[0] == entry.latest
    for kubernetes in ("1.29", "1.30"):
        assert str(coredns.entry(k8s(kubernetes)).latest) == "v1.11.3-eksbuild.1"
    assert str(coredns.entry(k8s("1.23")).latest) == "v1.8.7-eksbuild.16"


def test_coredns_add_on_table_history_is_offered(coredns: Matrix) -> None:
    checked = 0
    for entry in facts("coredns")["eks_doc_table_history"]["entries"]:
        # Only rows of EKS add-on builds: before 2023-03 the table listed self-managed images.
        if "eks_addon" not in entry or entry["date"] > SNAPSHOT:
            continue
        for kubernetes, build in entry["eks_addon"].items():
            if kubernetes in K8S:
                assert AddonVersion.parse(build) in coredns.builds_for(k8s(kubernetes)), build
                checked += 1
    assert checked > 100


def test_coredns_1_29_capture(coredns: Matrix) -> None:
    capture = facts("coredns")["compatibility_k8s_1.29_circa_2024_04"]
    v129 = k8s("1.29")
    assert versions(capture["compatible"]) <= set(coredns.builds_for(v129))
    for version in versions(capture["not_compatible_examples"]):
        assert coredns.known_not_offered(version, v129), version
    assert str(coredns.entry(v129).default) == "v1.11.1-eksbuild.4"


def test_coredns_policy_and_deployment(coredns: Matrix) -> None:
    assert coredns.policy.kind is PolicyKind.CATALOGUE and coredns.policy.skew is None
    (workload,) = coredns.workloads
    assert workload.kind is WorkloadKind.DEPLOYMENT
    assert (workload.namespace, workload.name, workload.version_container) == (
        "kube-system",
        "coredns",
        "coredns",
    )
    assert workload.image_tag is ImageTagRule.ADDON_VERSION


# --- EBS CSI driver: data points, not a table ---


@pytest.fixture
def ebs() -> Matrix:
    return bundled_matrix("aws-ebs-csi-driver")


def test_ebs_csi_records_only_the_known_points(ebs: Matrix) -> None:
    data = facts("aws-ebs-csi-driver")
    assert data["latest_per_kubernetes_2024_09"]["doc_table"].startswith("none")
    assert sorted(str(k) for k in ebs.kubernetes) == ["1.29", "1.30"]
    points = {p["k8s"]: p for p in data["latest_per_kubernetes_2024_09"]["known_points"]}
    v129, v130 = ebs.entry(k8s("1.29")), ebs.entry(k8s("1.30"))
    assert (
        str(v129.latest) == points["1.29"]["latest"]
        and str(v129.default) == points["1.29"]["default"]
    )
    assert str(v130.default) == points["1.30"]["default"] == "v1.31.0-eksbuild.1"
    assert v129.latest_as_of == "2024-04" and v130.latest_as_of == "2024-07-25"


def test_ebs_csi_1_29_capture_is_exactly_what_is_offered(ebs: Matrix) -> None:
    capture = facts("aws-ebs-csi-driver")["compatibility_k8s_1.29_circa_2024_04"]
    v129 = k8s("1.29")
    assert set(ebs.builds_for(v129)) == versions(capture["compatible"])
    for item in capture["not_compatible_examples"]:
        assert ebs.known_not_offered(AddonVersion.parse(item.split()[0]), v129), item


@pytest.mark.parametrize(
    "irregular",
    ["v1.4.0-eksbuild.preview", "v1.8.0-eksbuild.0", "v1.7.0-eksbuild.0", "v1.6.2-eksbuild.0"],
)
def test_ebs_csi_irregular_builds_are_recorded_and_not_offered(ebs: Matrix, irregular: str) -> None:
    assert irregular in facts("aws-ebs-csi-driver")["version_string_format"]["irregular_builds"]
    version = AddonVersion.parse(irregular)
    assert ebs.find_build(version) is not None
    assert ebs.known_not_offered(version, k8s("1.29"))


def test_ebs_csi_workloads_do_not_claim_an_image_rule(ebs: Matrix) -> None:
    kinds = {(w.kind, w.name) for w in ebs.workloads}
    assert kinds == {
        (WorkloadKind.DEPLOYMENT, "ebs-csi-controller"),
        (WorkloadKind.DAEMONSET, "ebs-csi-node"),
    }
    assert all(w.image_tag is None for w in ebs.workloads)
    assert ebs.policy.kind is PolicyKind.CATALOGUE


# --- pod identity agent ---


@pytest.fixture
def pod_identity() -> Matrix:
    return bundled_matrix("eks-pod-identity-agent")


def test_pod_identity_records_the_1_29_capture_only(pod_identity: Matrix) -> None:
    data = facts("eks-pod-identity-agent")
    assert data["latest_per_kubernetes_2024_09"]["doc_table"].startswith("none")
    assert [str(k) for k in pod_identity.kubernetes] == ["1.29"]
    entry = pod_identity.entry(k8s("1.29"))
    assert str(entry.default) == str(entry.latest) == "v1.2.0-eksbuild.1"
    assert [str(v) for v in pod_identity.builds_for(k8s("1.29"))] == [
        "v1.2.0-eksbuild.1",
        "v1.1.0-eksbuild.1",
        "v1.0.0-eksbuild.1",
    ]
    seen = {item["build"] for item in data["builds_seen"]}
    assert {str(b.version) for b in pod_identity.builds} <= seen


def test_pod_identity_image_tags_are_unrelated(pod_identity: Matrix) -> None:
    assert "image_tag_does_not_match" in facts("eks-pod-identity-agent")["version_string_format"]
    (workload,) = pod_identity.workloads
    assert workload.image_tag is ImageTagRule.UNRELATED
    assert (workload.kind, workload.name) == (WorkloadKind.DAEMONSET, "eks-pod-identity-agent")
    assert pod_identity.policy.kind is PolicyKind.CATALOGUE
