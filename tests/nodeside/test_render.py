"""The rendered node-side manifest against the upstream files, across versions and regions."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from functools import cache, lru_cache
from typing import Any

import pytest
import yaml

from eksaddon.errors import InputError, MatrixError
from eksaddon.matrix import AddonType, Matrix, load_matrix
from eksaddon.nodeside import components
from eksaddon.nodeside.detect import Customization, detect
from eksaddon.nodeside.render import registry_for, render
from eksaddon.versions import AddonVersion
from tests_support import UPSTREAM_BY_TAG, require_shared

try:  # libyaml parses the upstream files ten times faster
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover - depends on how PyYAML was built
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]

US_WEST_2 = "602401143452.dkr.ecr.us-west-2.amazonaws.com"
# The file of each region in by-tag/<tag>/ (SOURCES.md there): upstream ships these four.
REGION_FILES = {
    "us-west-2": "aws-k8s-cni.yaml",
    "cn-northwest-1": "aws-k8s-cni-cn.yaml",
    "us-gov-east-1": "aws-k8s-cni-us-gov-east-1.yaml",
    "us-gov-west-1": "aws-k8s-cni-us-gov-west-1.yaml",
}

Doc = dict[str, Any]


def _upstream_tags() -> list[str]:
    # Collected from ../shared when it is there; otherwise one placeholder case that skips (or, in
    # CI, fails) with the reason, so an absent folder never passes as "no tags to check".
    if not UPSTREAM_BY_TAG.is_dir():
        return ["absent"]
    tags = [p.name for p in UPSTREAM_BY_TAG.iterdir() if p.is_dir()]
    return sorted(tags, key=AddonVersion.parse)


UPSTREAM_TAGS = _upstream_tags()


# --- helpers ----------------------------------------------------------------------------------


@cache
def _upstream_documents(tag: str, region: str) -> tuple[Doc, ...]:
    # Parsed once per file and process: the comparisons below share them (and copy before use).
    path = UPSTREAM_BY_TAG / tag / REGION_FILES[region]
    require_shared(path, "the upstream release manifests")
    return tuple(d for d in yaml.load_all(path.read_text(encoding="utf-8"), Loader=_Loader) if d)


def upstream(tag: str, region: str = "us-west-2") -> list[Doc]:
    """Upstream's manifest of ``tag`` for ``region``, read from ../shared at run time."""
    return copy.deepcopy(list(_upstream_documents(tag, region)))


@lru_cache(maxsize=1)
def _matrix() -> Matrix:
    # Loaded once: every test gets a fresh matrix cache directory, and revalidating the matrix
    # for each of the hundreds of renders here would cost seconds.
    return load_matrix("vpc-cni")


def rendered(version: str, region: str = "us-west-2", **kwargs: Any) -> list[Doc]:
    kwargs.setdefault("matrix", _matrix())
    return render(AddonVersion.parse(version), region, **kwargs)


def kind(objects: list[Doc], wanted: str, name: str | None = None) -> Doc:
    return next(
        o
        for o in objects
        if o["kind"] == wanted and (name is None or o["metadata"]["name"] == name)
    )


def has_kind(objects: list[Doc], wanted: str, name: str | None = None) -> bool:
    return any(
        o["kind"] == wanted and (name is None or o["metadata"]["name"] == name) for o in objects
    )


def pod(objects: list[Doc]) -> Doc:
    spec: Doc = kind(objects, "DaemonSet")["spec"]["template"]["spec"]
    return spec


def containers(objects: list[Doc]) -> dict[str, Doc]:
    spec = pod(objects)
    return {c["name"]: c for c in [*spec.get("initContainers", []), *spec["containers"]]}


def env(container: Doc) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container.get("env", [])}


def _without_descriptions(node: Any) -> Any:
    if isinstance(node, dict):
        return {
            k: _without_descriptions(v)
            for k, v in node.items()
            if not (k == "description" and isinstance(v, str))
        }
    if isinstance(node, list):
        return [_without_descriptions(v) for v in node]
    return node


def comparable(document: Doc) -> Doc:
    """What must match upstream exactly: everything but the CRDs' field documentation.

    eksaddon does not carry the ``description`` text of the CRD schemas; the API server checks
    none of it.
    """
    if document.get("kind") != "CustomResourceDefinition":
        return document
    return {**document, "spec": _without_descriptions(document["spec"])}


def differences(ours: Any, theirs: Any, path: str) -> Iterator[str]:
    """Where two documents differ, as paths: what a failing comparison should say."""
    if isinstance(ours, dict) and isinstance(theirs, dict):
        for key in [*ours, *(k for k in theirs if k not in ours)]:
            if key not in theirs:
                yield f"{path}.{key}: not upstream's (we have {ours[key]!r:.120})"
            elif key not in ours:
                yield f"{path}.{key}: missing (upstream has {theirs[key]!r:.120})"
            else:
                yield from differences(ours[key], theirs[key], f"{path}.{key}")
    elif isinstance(ours, list) and isinstance(theirs, list) and len(ours) == len(theirs):
        for index, (mine, reference) in enumerate(zip(ours, theirs, strict=True)):
            yield from differences(mine, reference, f"{path}[{index}]")
    elif ours != theirs or type(ours) is not type(theirs):
        yield f"{path}: {ours!r:.120} != upstream {theirs!r:.120}"


def _rules(objects: list[Doc]) -> Any:
    return kind(objects, "ClusterRole")["rules"]


def names(objects: list[Doc]) -> list[tuple[str, str, str]]:
    return [(o["apiVersion"], o["kind"], o["metadata"]["name"]) for o in objects]


# --- (a) against upstream's manifest of every release tag, in every region it ships ----------


@pytest.mark.parametrize("region", list(REGION_FILES))
@pytest.mark.parametrize("tag", UPSTREAM_TAGS)
def test_render_equals_upstream_object_for_object(tag: str, region: str) -> None:
    theirs = upstream(tag, region)
    mine = rendered(tag, region)
    assert names(mine) == names(theirs), "objects or their order differ"
    for ours, reference in zip(mine, theirs, strict=True):
        found = list(differences(comparable(ours), comparable(reference), ours["kind"]))
        assert not found, "\n".join(found[:20])


def test_the_upstream_folder_covers_every_minor_v1_7_to_v1_23() -> None:
    require_shared(UPSTREAM_BY_TAG, "the upstream release manifests")
    minors = {AddonVersion.parse(t).minor_line for t in UPSTREAM_TAGS}
    assert minors == {(1, m) for m in range(7, 24)}
    assert (UPSTREAM_TAGS[0], UPSTREAM_TAGS[-1]) == ("v1.7.5", "v1.23.0")
    for tag in UPSTREAM_TAGS:
        assert sorted(p.name for p in (UPSTREAM_BY_TAG / tag).iterdir()) == sorted(
            REGION_FILES.values()
        ), tag


def test_the_comparison_would_notice_a_difference() -> None:
    # Guard against a vacuous comparison: a changed default, a dropped key, a changed CRD schema
    # (not its description) must each be reported.
    theirs = upstream("v1.18.3")
    mine = rendered("v1.18.3")
    containers(mine)["aws-node"]["env"][0]["value"] = "changed"
    del containers(mine)["aws-eks-nodeagent"]["resources"]
    crd = kind(mine, "CustomResourceDefinition", "policyendpoints.networking.k8s.aws")
    crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["type"] = "array"
    found = [
        line
        for ours, reference in zip(mine, theirs, strict=True)
        for line in differences(comparable(ours), comparable(reference), ours["kind"])
    ]
    assert len(found) == 3, found
    assert any("env[0].value" in line for line in found)
    assert any("resources: missing" in line for line in found)
    assert any("openAPIV3Schema.type" in line for line in found)


# --- (a) upstream's own slips: kept, and said ---------------------------------------------------


def _label_versions(objects: list[Doc]) -> set[str]:
    return {
        o["metadata"]["labels"]["app.kubernetes.io/version"]
        for o in objects
        if "app.kubernetes.io/version" in o["metadata"].get("labels", {})
    }


def test_v1_22_0_is_upstream_s_v1_21_1_manifest_and_says_so() -> None:
    objects = rendered("v1.22.0")
    assert objects == rendered("v1.21.1")
    assert containers(objects)["aws-node"]["image"] == f"{US_WEST_2}/amazon-k8s-cni:v1.21.1"
    (note,) = components.upstream_notes(AddonVersion.parse("v1.22.0"), "us-west-2")
    assert "v1.21.1" in note
    assert components.built_as(AddonVersion.parse("v1.22.0"), "eu-west-1") == AddonVersion.parse(
        "v1.21.1"
    )


@pytest.mark.parametrize(
    ("version", "label"), [("v1.18.5", "v1.18.4"), ("v1.19.4", "v1.19.2"), ("v1.20.2", "v1.20.1")]
)
def test_labels_upstream_got_wrong_are_kept_with_a_note(version: str, label: str) -> None:
    objects = rendered(version, "eu-west-1")
    assert _label_versions(objects) == {label}
    assert containers(objects)["aws-node"]["image"].endswith(f"amazon-k8s-cni:{version}")
    (note,) = components.upstream_notes(AddonVersion.parse(version), "eu-west-1")
    assert label in note


def test_a_china_manifest_upstream_did_not_regenerate_is_scoped_to_its_region() -> None:
    stale = rendered("v1.20.3", "cn-northwest-1")
    assert containers(stale)["aws-node"]["image"].endswith("amazon-k8s-cni:v1.20.2")
    notes = components.upstream_notes(AddonVersion.parse("v1.20.3"), "cn-northwest-1")
    assert any("v1.20.2" in n for n in notes)
    # The other China region has no upstream file: eksaddon renders the release itself.
    fresh = rendered("v1.20.3", "cn-north-1")
    assert containers(fresh)["aws-node"]["image"].endswith("amazon-k8s-cni:v1.20.3")
    assert components.upstream_notes(AddonVersion.parse("v1.20.3"), "cn-north-1") == []


def test_installing_a_release_uses_its_own_objects_where_a_region_s_file_is_stale() -> None:
    # The upgrade engine installs releases (shipped=False): the stale China file of v1.20.5 would
    # install v1.20.4 and the rollout would never show v1.20.5.
    installed = rendered("v1.20.5", "cn-northwest-1", shipped=False)
    host = registry_for("cn-northwest-1")
    expected = yaml.safe_dump_all(rendered("v1.20.5"), sort_keys=False).replace(US_WEST_2, host)
    assert yaml.safe_dump_all(installed, sort_keys=False) == expected
    assert containers(installed)["aws-node"]["image"] == f"{host}/amazon-k8s-cni:v1.20.5"


def test_a_tag_that_ships_another_release_cannot_be_installed() -> None:
    with pytest.raises(
        InputError, match=r"cannot install vpc-cni v1\.22\.0: .*v1\.21\.1"
    ) as caught:
        rendered("v1.22.0", "eu-west-1", shipped=False)
    assert caught.value.hint == "choose another v1.22 release"


def test_shipped_and_installed_objects_differ_only_where_upstream_slipped(bundled: Matrix) -> None:
    for version in _releases_in_range(bundled):
        if str(version) == "v1.22.0":
            continue
        for region in ("cn-northwest-1", "us-gov-west-1"):
            shipped = render(version, region, matrix=bundled)
            installed = render(version, region, matrix=bundled, shipped=False)
            slipped = components.built_as(version, region) != version
            assert (shipped != installed) is slipped, (version, region)


def test_releases_without_slips_have_no_notes() -> None:
    for version in ("v1.7.5", "v1.18.3", "v1.21.1", "v1.23.0"):
        assert components.upstream_notes(AddonVersion.parse(version), "us-west-2") == []


# --- (b) regions ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("region", "host"),
    [
        ("us-west-2", US_WEST_2),
        ("eu-west-1", "602401143452.dkr.ecr.eu-west-1.amazonaws.com"),
        ("af-south-1", "877085696533.dkr.ecr.af-south-1.amazonaws.com"),
        ("cn-north-1", "918309763551.dkr.ecr.cn-north-1.amazonaws.com.cn"),
        ("cn-northwest-1", "961992271922.dkr.ecr.cn-northwest-1.amazonaws.com.cn"),
        ("us-gov-west-1", "013241004608.dkr.ecr.us-gov-west-1.amazonaws.com"),
        ("us-gov-east-1", "151742754352.dkr.ecr.us-gov-east-1.amazonaws.com"),
        ("il-central-1", "066635153087.dkr.ecr.il-central-1.amazonaws.com"),
        ("ap-southeast-7", "121268973566.dkr.ecr.ap-southeast-7.amazonaws.com"),
        (" EU-WEST-1 ", "602401143452.dkr.ecr.eu-west-1.amazonaws.com"),
    ],
)
def test_registry_for(region: str, host: str) -> None:
    assert registry_for(region) == host


@pytest.mark.parametrize("region", ["eu-west-1", "af-south-1", "cn-north-1", "us-gov-east-1"])
def test_every_image_comes_from_the_region_registry(region: str) -> None:
    images = {n: c["image"] for n, c in containers(rendered("v1.18.3", region)).items()}
    host = registry_for(region)
    assert images == {
        "aws-vpc-cni-init": f"{host}/amazon-k8s-cni-init:v1.18.3",
        "aws-node": f"{host}/amazon-k8s-cni:v1.18.3",
        "aws-eks-nodeagent": f"{host}/amazon/aws-network-policy-agent:v1.1.2",
    }


def test_only_the_images_change_with_the_region() -> None:
    text = yaml.safe_dump_all(rendered("v1.15.5", "cn-north-1"), sort_keys=False)
    expected = yaml.safe_dump_all(rendered("v1.15.5"), sort_keys=False).replace(
        US_WEST_2, "918309763551.dkr.ecr.cn-north-1.amazonaws.com.cn"
    )
    assert text == expected


@pytest.mark.parametrize("region", ["mars-east-1", "", "us-iso-east-1", "us-west-2a"])
def test_unknown_region_is_an_input_error(region: str) -> None:
    with pytest.raises(InputError, match="no known ECR registry for region"):
        registry_for(region)
    with pytest.raises(InputError, match="no known ECR registry for region"):
        rendered("v1.18.3", region)


# --- (b) version ranges -----------------------------------------------------------------------


def test_v1_7_has_the_init_container_but_no_node_agent() -> None:
    objects = rendered("v1.7.10")
    assert list(containers(objects)) == ["aws-vpc-cni-init", "aws-node"]
    assert not has_kind(objects, "ConfigMap")
    assert not has_kind(objects, "CustomResourceDefinition", "policyendpoints.networking.k8s.aws")
    assert containers(objects)["aws-node"]["securityContext"] == {
        "capabilities": {"add": ["NET_ADMIN"]}
    }
    assert containers(objects)["aws-vpc-cni-init"]["securityContext"] == {"privileged": True}
    assert "securityContext" not in pod(objects)  # the pod securityContext came with the chart


def test_jsonnet_manifests_are_ordered_and_labelled_as_they_were() -> None:
    objects = rendered("v1.8.0")
    assert [o["kind"] for o in objects] == [
        "ClusterRoleBinding",
        "ClusterRole",
        "CustomResourceDefinition",
        "DaemonSet",
        "ServiceAccount",
    ]
    assert kind(objects, "DaemonSet")["metadata"]["labels"] == {"k8s-app": "aws-node"}
    assert "labels" not in kind(objects, "ServiceAccount")["metadata"]
    terms = pod(objects)["affinity"]["nodeAffinity"][
        "requiredDuringSchedulingIgnoredDuringExecution"
    ]
    keys = [[e["key"] for e in t["matchExpressions"]] for t in terms["nodeSelectorTerms"]]
    assert keys[0][:2] == ["beta.kubernetes.io/os", "beta.kubernetes.io/arch"]
    assert keys[1][:2] == ["kubernetes.io/os", "kubernetes.io/arch"]


@pytest.mark.parametrize(
    ("version", "init_env", "xtables"),
    [
        ("v1.7.0", {}, False),
        ("v1.7.2", {}, True),
        ("v1.7.3", {"DISABLE_TCP_EARLY_DEMUX": "false"}, True),
        ("v1.10.0", {"DISABLE_TCP_EARLY_DEMUX": "false", "ENABLE_IPv6": "false"}, True),
    ],
)
def test_early_v1_7_changes(version: str, init_env: dict[str, str], xtables: bool) -> None:
    objects = rendered(version)
    assert env(containers(objects)["aws-vpc-cni-init"]) == init_env
    volumes = {v["name"] for v in pod(objects)["volumes"]}
    mounts = {m["name"] for m in containers(objects)["aws-node"]["volumeMounts"]}
    assert ("xtables-lock" in volumes) is xtables
    assert ("xtables-lock" in mounts) is xtables


@pytest.mark.parametrize(
    ("version", "api_version"),
    [
        ("v1.7.0", "apiextensions.k8s.io/v1beta1"),
        ("v1.9.3", "apiextensions.k8s.io/v1beta1"),
        ("v1.10.0", "apiextensions.k8s.io/v1"),
        ("v1.18.6", "apiextensions.k8s.io/v1"),
    ],
)
def test_eniconfig_crd_api_version(version: str, api_version: str) -> None:
    crd = kind(rendered(version), "CustomResourceDefinition", "eniconfigs.crd.k8s.amazonaws.com")
    assert crd["apiVersion"] == api_version
    assert crd["spec"]["names"]["kind"] == "ENIConfig"
    assert crd["spec"]["scope"] == "Cluster"
    (served,) = crd["spec"]["versions"]
    assert ("schema" in served) is api_version.endswith("/v1")


def test_v1_9_uses_the_beta_crd_and_adds_prefix_delegation() -> None:
    objects = rendered("v1.9.3")
    aws_node = env(containers(objects)["aws-node"])
    assert aws_node["ENABLE_PREFIX_DELEGATION"] == "false"
    assert aws_node["WARM_PREFIX_TARGET"] == "1"
    assert aws_node["DISABLE_NETWORK_RESOURCE_PROVISIONING"] == "false"
    assert "ENABLE_IPv6" not in aws_node
    assert kind(objects, "CustomResourceDefinition")["apiVersion"].endswith("v1beta1")


@pytest.mark.parametrize(
    ("version", "dockershim", "capabilities"),
    [
        ("v1.11.5", True, ["NET_ADMIN"]),
        ("v1.12.0", False, ["NET_ADMIN", "NET_RAW"]),
        ("v1.12.6", False, ["NET_ADMIN", "NET_RAW"]),
    ],
)
def test_v1_12_drops_the_dockershim_mount(
    version: str, dockershim: bool, capabilities: list[str]
) -> None:
    objects = rendered(version)
    aws_node = containers(objects)["aws-node"]
    assert any(v["name"] == "dockershim" for v in pod(objects)["volumes"]) is dockershim
    mounts = [m["mountPath"] for m in aws_node["volumeMounts"]]
    assert ("/var/run/dockershim.sock" in mounts) is dockershim
    assert aws_node["securityContext"]["capabilities"]["add"] == capabilities


def test_v1_13_has_no_configmap_nor_node_agent() -> None:
    objects = rendered("v1.13.4")
    assert not has_kind(objects, "ConfigMap")
    assert not has_kind(objects, "CustomResourceDefinition", "policyendpoints.networking.k8s.aws")
    assert list(containers(objects)) == ["aws-vpc-cni-init", "aws-node"]
    assert containers(objects)["aws-vpc-cni-init"]["resources"] == {"requests": {"cpu": "25m"}}
    assert "bpf-pin-path" not in {v["name"] for v in pod(objects)["volumes"]}
    assert not any("extensions" in r["apiGroups"] for r in _rules(objects))


def test_v1_14_adds_node_agent_configmap_and_policyendpoint_crd() -> None:
    objects = rendered("v1.14.0")
    assert [o["kind"] for o in objects][:4] == [
        "CustomResourceDefinition",
        "CustomResourceDefinition",
        "ServiceAccount",
        "ConfigMap",
    ]
    crd = kind(objects, "CustomResourceDefinition", "policyendpoints.networking.k8s.aws")
    assert crd["spec"]["scope"] == "Namespaced"
    assert crd["spec"]["names"]["kind"] == "PolicyEndpoint"
    assert kind(objects, "ConfigMap", "amazon-vpc-cni")["data"] == {
        "enable-windows-ipam": "false",
        "enable-network-policy-controller": "false",
    }
    agent = containers(objects)["aws-eks-nodeagent"]
    assert agent["image"] == f"{US_WEST_2}/amazon/aws-network-policy-agent:v1.0.1"
    assert agent["args"] == [
        "--enable-ipv6=false",
        "--enable-network-policy=false",
        "--enable-cloudwatch-logs=false",
    ]
    assert agent["securityContext"] == {"capabilities": {"add": ["NET_ADMIN"]}, "privileged": True}
    assert [m["name"] for m in agent["volumeMounts"]] == [
        "cni-bin-dir",
        "bpf-pin-path",
        "log-dir",
        "run-dir",
    ]
    policy_rules = [r for r in _rules(objects) if r["apiGroups"] == ["networking.k8s.aws"]]
    assert [r["resources"] for r in policy_rules] == [
        ["policyendpoints"],
        ["policyendpoints/status"],
    ]


@pytest.mark.parametrize(
    ("version", "agent_tag"),
    [
        ("v1.14.1", "v1.0.2"),
        ("v1.15.0", "v1.0.2"),
        ("v1.15.1", "v1.0.4"),
        ("v1.15.3", "v1.0.5"),
        ("v1.15.4", "v1.0.6"),
        ("v1.16.2", "v1.0.7"),
        ("v1.16.4", "v1.0.8"),
        ("v1.17.1", "v1.1.0"),
        ("v1.18.0", "v1.1.0"),
        ("v1.18.1", "v1.1.1"),
        ("v1.18.5", "v1.1.3"),
        ("v1.18.6", "v1.1.4"),
    ],
)
def test_node_agent_tag_per_release(version: str, agent_tag: str) -> None:
    image = containers(rendered(version))["aws-eks-nodeagent"]["image"]
    assert image.endswith(f"/amazon/aws-network-policy-agent:{agent_tag}")


@pytest.mark.parametrize(
    ("version", "cpu"),
    [
        ("v1.10.1", "10m"),
        ("v1.10.2", "25m"),
        ("v1.10.4", "25m"),
        ("v1.11.2", "10m"),
        ("v1.11.3", "25m"),
    ],
)
def test_aws_node_cpu_request(version: str, cpu: str) -> None:
    assert containers(rendered(version))["aws-node"]["resources"] == {"requests": {"cpu": cpu}}


@pytest.mark.parametrize(
    ("version", "command_tail", "timeout"),
    [
        ("v1.9.3", [], None),
        ("v1.10.0", ["-connect-timeout=2s", "-rpc-timeout=2s"], 5),
        ("v1.10.2", ["-connect-timeout=5s", "-rpc-timeout=5s"], 10),
    ],
)
def test_probe_commands(version: str, command_tail: list[str], timeout: int | None) -> None:
    aws_node = containers(rendered(version))["aws-node"]
    for probe, delay in (("livenessProbe", 60), ("readinessProbe", 1)):
        assert aws_node[probe]["exec"]["command"] == [
            "/app/grpc-health-probe",
            "-addr=:50051",
            *command_tail,
        ]
        assert aws_node[probe]["initialDelaySeconds"] == delay
        assert aws_node[probe].get("timeoutSeconds") == timeout


@pytest.mark.parametrize(
    ("version", "verbs"),
    [
        ("v1.11.2", None),
        ("v1.11.3", ["create", "patch", "list", "get"]),
        ("v1.11.4", ["create", "patch", "list"]),
    ],
)
def test_events_rule(version: str, verbs: list[str] | None) -> None:
    found = [r["verbs"] for r in _rules(rendered(version)) if r["resources"] == ["events"]]
    assert found == ([] if verbs is None else [verbs])


def test_v1_15_cninodes_and_nodes_rules() -> None:
    rules = {tuple(r["resources"]): r["verbs"] for r in _rules(rendered("v1.15.0"))}
    assert rules[("cninodes",)] == ["get", "list", "patch"]
    assert rules[("nodes",)] == ["list", "watch", "get"]
    rules = {tuple(r["resources"]): r["verbs"] for r in _rules(rendered("v1.14.1"))}
    assert ("cninodes",) not in rules
    assert rules[("nodes",)] == ["list", "watch", "get", "update"]


def test_v1_16_configmap_keys_and_v1_18_4_patch_rule() -> None:
    assert len(kind(rendered("v1.16.0"), "ConfigMap")["data"]) == 7
    objects = rendered("v1.18.4")
    pods = next(r for r in _rules(objects) if r["resources"] == ["pods"])
    assert pods["verbs"] == ["list", "watch", "get", "patch"]
    assert env(containers(objects)["aws-node"])["ANNOTATE_POD_IP"] == "false"


@pytest.mark.parametrize(("version", "file_type"), [("v1.18.1", None), ("v1.18.2", "FileOrCreate")])
def test_xtables_lock_type(version: str, file_type: str | None) -> None:
    volume = next(v for v in pod(rendered(version))["volumes"] if v["name"] == "xtables-lock")
    assert volume["hostPath"].get("type") == file_type


@pytest.mark.parametrize("version", ["v1.7.10", "v1.11.5", "v1.15.5", "v1.18.6"])
def test_output_is_plain_yaml(version: str) -> None:
    objects = rendered(version)
    assert list(yaml.safe_load_all(yaml.safe_dump_all(objects))) == objects


def test_each_call_returns_fresh_objects() -> None:
    first = rendered("v1.18.3")
    containers(first)["aws-node"]["env"].clear()
    kind(first, "ClusterRole")["rules"].clear()
    second = rendered("v1.18.3")
    assert env(containers(second)["aws-node"])["WARM_ENI_TARGET"] == "1"
    assert _rules(second)


# --- (b) customizations -----------------------------------------------------------------------


def test_customizations_are_applied() -> None:
    objects = rendered(
        "v1.18.3",
        customizations=[
            Customization("aws-node", "ENABLE_PREFIX_DELEGATION", "true", "false", "env"),
            Customization("aws-node", "WARM_IP_TARGET", "5", None, "env"),
            Customization("aws-vpc-cni-init", "DISABLE_TCP_EARLY_DEMUX", "true", "false", "env"),
            Customization("aws-eks-nodeagent", "--enable-network-policy", "true", "false", "arg"),
            Customization("aws-eks-nodeagent", "--log-level", "info", None, "arg"),
        ],
    )
    found = containers(objects)
    aws_node = env(found["aws-node"])
    assert aws_node["ENABLE_PREFIX_DELEGATION"] == "true"
    assert aws_node["WARM_IP_TARGET"] == "5"
    assert aws_node["WARM_ENI_TARGET"] == "1"  # untouched
    assert env(found["aws-vpc-cni-init"])["DISABLE_TCP_EARLY_DEMUX"] == "true"
    args = found["aws-eks-nodeagent"]["args"]
    assert "--enable-network-policy=true" in args
    assert "--enable-network-policy=false" not in args
    assert args[-1] == "--log-level=info"
    # The chart drives the controller switch from the same value as the agent flag.
    assert kind(objects, "ConfigMap")["data"]["enable-network-policy-controller"] == "true"


def test_customizations_without_value_and_with_a_field_reference() -> None:
    objects = rendered(
        "v1.12.6",
        customizations=[
            Customization("aws-node", "CLUSTER_NAME", None, None, "env"),
            Customization("aws-node", "NODE_IP", "<fieldRef:status.hostIP>", None, "env"),
        ],
    )
    entries = {e["name"]: e for e in containers(objects)["aws-node"]["env"]}
    assert entries["CLUSTER_NAME"] == {"name": "CLUSTER_NAME"}
    assert entries["NODE_IP"]["valueFrom"] == {"fieldRef": {"fieldPath": "status.hostIP"}}


@pytest.mark.parametrize(
    ("customization", "message"),
    [
        (
            Customization("aws-eks-nodeagent", "--enable-network-policy", "true", "false", "arg"),
            "'aws-eks-nodeagent': the v1.13.4 manifest has no such container",
        ),
        (Customization("aws-node", "X", "1", None, "annotation"), "has kind 'annotation'"),
        (Customization("aws-node", "", "1", None, "env"), "has no name"),
        (
            Customization("aws-node", "TOKEN", "<secretKeyRef:token>", None, "env"),
            "cannot be rebuilt",
        ),
    ],
)
def test_bad_customizations_are_input_errors(customization: Customization, message: str) -> None:
    with pytest.raises(InputError, match=message):
        rendered("v1.13.4", customizations=[customization])


# --- (b) errors -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("version", "message"),
    [
        ("v1.6.4", r"eksaddon covers v1\.7\.x–v1\.23\.x"),
        ("v1.24.0", r"eksaddon covers v1\.7\.x–v1\.23\.x"),
        ("v2.0.0", r"eksaddon covers"),
        ("v1.11.1", r"v1\.11\.1 is not a known vpc-cni release"),
        ("v1.18.99", r"not a known vpc-cni release"),
        ("v1.18.3-eksbuild.3", r"is an EKS add-on build"),
    ],
)
def test_versions_that_cannot_be_rendered(version: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        rendered(version)


def test_unknown_release_names_the_known_ones() -> None:
    with pytest.raises(InputError) as caught:
        rendered("v1.11.1")
    assert caught.value.hint is not None
    assert "v1.11.0, v1.11.2, v1.11.3, v1.11.4, v1.11.5" in caught.value.hint


def test_a_matrix_without_daemonset_defaults_is_refused(bundled: Matrix) -> None:
    with pytest.raises(MatrixError, match="no daemonset section"):
        rendered("v1.18.3", matrix=bundled._replace(daemonset=None))


def test_the_data_file_ranges_never_overlap_for_single_facts(bundled: Matrix) -> None:
    # pick_one takes the first applicable entry: two applicable entries would hide a data error.
    facts = components.facts()
    for release in _releases_in_range(bundled):
        for entry in facts["containers"]:
            for field in ("resources", "securityContext", "probe_commands", "imagePullPolicy"):
                chosen = components.pick(entry.get(field, ()), release)
                assert len(chosen) <= 1, (release, entry["name"], field)
        for crd in ("eniconfig_crd", "policyendpoint_crd"):
            assert len(components.pick(facts[crd]["schemas"], release)) <= 1, (release, crd)
        compute_type = facts["pod"]["node_affinity"]["compute_type"]
        assert len(components.pick(compute_type, release)) == 1, release


# --- (c) consistency with detect --------------------------------------------------------------


def _releases_in_range(matrix: Matrix) -> list[AddonVersion]:
    return sorted(r.version for r in matrix.releases if (1, 7) <= r.version.minor_line <= (1, 23))


def _latest_patches(matrix: Matrix) -> list[AddonVersion]:
    latest: dict[tuple[int, int], AddonVersion] = {}
    for version in _releases_in_range(matrix):
        latest[version.minor_line] = version
    return list(latest.values())


def _minor_ids(matrix_versions: list[AddonVersion]) -> list[str]:
    return [str(v) for v in matrix_versions]


def test_every_minor_v1_7_to_v1_23_is_covered(bundled: Matrix) -> None:
    assert [v.minor_line for v in _latest_patches(bundled)] == [(1, m) for m in range(7, 24)]
    assert str(_latest_patches(bundled)[-1]) == "v1.23.0"


def test_detect_finds_no_customizations_in_any_rendered_release(bundled: Matrix) -> None:
    for version in _releases_in_range(bundled):
        objects = render(version, "eu-west-1", matrix=bundled)
        detected = detect(kind(objects, "DaemonSet"), bundled, label=str(version))
        # v1.22.0's manifest is upstream's v1.21.1 one: its images say v1.21.1.
        assert detected.version == components.built_as(version, "eu-west-1")
        assert detected.addon_type is AddonType.SELF_MANAGED
        assert detected.customizations == (), version
        assert detected.features == (), version


@pytest.mark.parametrize("tag", UPSTREAM_TAGS)
def test_detect_finds_no_customizations_in_upstream_s_own_daemonset(tag: str) -> None:
    # Upstream's file itself, not our rendering of it: what an operator who applied it runs.
    daemonset = kind(upstream(tag), "DaemonSet")
    detected = detect(daemonset, _matrix(), label=tag)
    assert detected.version == components.built_as(AddonVersion.parse(tag), "us-west-2")
    assert detected.customizations == ()
    assert detected.features == ()


CANDIDATES = (
    Customization("aws-node", "AWS_VPC_K8S_CNI_EXTERNALSNAT", "true", "false", "env"),
    Customization("aws-node", "WARM_IP_TARGET", "5", None, "env"),
    Customization("aws-node", "ENABLE_POD_ENI", "true", "false", "env"),
    Customization("aws-vpc-cni-init", "DISABLE_TCP_EARLY_DEMUX", "true", "false", "env"),
    Customization("aws-eks-nodeagent", "--enable-network-policy", "true", "false", "arg"),
    Customization("aws-eks-nodeagent", "--conntrack-cache-cleanup-period", "600", "300", "arg"),
)


def test_detect_finds_exactly_the_applied_customizations(bundled: Matrix) -> None:
    for version in _latest_patches(bundled):
        present = containers(render(version, "us-west-2", matrix=bundled))
        applied = [
            c
            for c in CANDIDATES
            if c.container in present and (c.default is None or _has_setting(present, c))
        ]
        objects = render(version, "us-west-2", customizations=applied, matrix=bundled)
        detected = detect(kind(objects, "DaemonSet"), bundled, label="x")
        assert set(detected.customizations) == set(applied), version
        assert len(detected.customizations) == len(applied)


def _has_setting(present: dict[str, Doc], customization: Customization) -> bool:
    container = present[customization.container]
    if customization.kind == "env":
        return customization.name in env(container)
    return any(a.partition("=")[0] == customization.name for a in container.get("args", []))


def test_render_loads_the_bundled_matrix_by_default() -> None:
    objects = render(AddonVersion.parse("v1.18.3"), "us-west-2")
    assert objects == rendered("v1.18.3")
