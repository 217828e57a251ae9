"""``migrate --addon coredns|kube-proxy`` in the engine: settings carried, or refused before any
change; EKS's take-over simulated on an in-memory cluster, schemas the real ones from ../shared."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from addon_objects import (
    COREDNS_SCHEMA,
    DEFAULT_COREFILE,
    EDITED_COREFILE,
    KUBE_PROXY_SCHEMA,
    ClusterObjects,
    coredns_configmap,
    coredns_deployment,
    kube_proxy_configmap,
    kube_proxy_daemonset,
    schema,
)

from eksaddon.addons import profile_for
from eksaddon.engine.events import Event, Notice
from eksaddon.engine.migrate import MigrateOptions, MigrateResult
from eksaddon.engine.migrate_settings import migrate_profiled, rollout_behind
from eksaddon.errors import InputError, UpgradeStoppedError
from eksaddon.gateways.protocols import (
    AddonRequest,
    AddonState,
)
from eksaddon.versions import AddonVersion
from fakes import FakeClock, FakeEks
from tests_support import Result

COREDNS_BUILDS = ["v1.11.3-eksbuild.1", "v1.10.1-eksbuild.13", "v1.10.1-eksbuild.11"]
KUBE_PROXY_BUILDS = ["v1.29.7-eksbuild.5", "v1.28.12-eksbuild.5"]


class Cluster(ClusterObjects):
    """The cluster's objects, its DaemonSets and Deployments rolled out (status as the
    controllers leave it once every pod runs the spec)."""

    def __init__(self, *documents: dict[str, Any]) -> None:
        super().__init__(*documents)
        for document in documents:
            if document["kind"] in ("DaemonSet", "Deployment"):
                rolled_out(document)


def rolled_out(document: dict[str, Any]) -> None:
    document["metadata"]["generation"] = document["metadata"].get("generation", 1)
    replicas = document["spec"].get("replicas", 2)
    document["status"] = {
        "observedGeneration": document["metadata"]["generation"],
        "replicas": replicas,
        "updatedReplicas": replicas,
        "availableReplicas": replicas,
        "desiredNumberScheduled": 2,
        "updatedNumberScheduled": 2,
        "numberAvailable": 2,
    }


class Eks(FakeEks):
    """The in-memory EKS, with this add-on's catalogue and schema; CreateAddon rewrites the
    objects the way EKS takes them over (``take_over``)."""

    def __init__(self, addon: str, builds: list[str], cluster: Cluster, **kwargs: Any) -> None:
        super().__init__(version=None, **kwargs)
        self.addon_name = addon
        self.catalogue = [AddonVersion.parse(v) for v in builds]
        self.default = self.catalogue[0]
        self.cluster_objects = cluster
        self.keep_settings = True

    def configuration_schema(self, addon: str, version: AddonVersion) -> dict[str, Any] | None:
        self._count("DescribeAddonConfiguration")
        return schema(KUBE_PROXY_SCHEMA if addon == "kube-proxy" else COREDNS_SCHEMA)

    def create_addon(self, request: AddonRequest) -> AddonState:
        state = super().create_addon(request)
        values = json.loads(request.configuration_values or "{}") if self.keep_settings else {}
        objects = self.cluster_objects.objects
        if request.addon == "coredns":
            objects[("ConfigMap", "coredns")] = coredns_configmap(
                values.get("corefile", DEFAULT_COREFILE)
            )
            deployment = coredns_deployment(
                str(request.version), replicas=values.get("replicaCount", 2)
            )
            rolled_out(deployment)
            objects[("Deployment", "coredns")] = deployment
        else:
            settings = {"mode": values.get("mode", "iptables")}
            if "ipvs" in values:
                settings["ipvs__scheduler"] = values["ipvs"]["scheduler"]
            objects[("ConfigMap", "kube-proxy-config")] = kube_proxy_configmap(**settings)
            tag = str(request.version).replace("-eksbuild", "-minimal-eksbuild")
            daemonset = kube_proxy_daemonset(tag, managers=["eks"])
            rolled_out(daemonset)
            objects[("DaemonSet", "kube-proxy")] = daemonset
        return state


def migrate(
    eks: Eks, tmp_path: Path, events: list[Event] | None = None, **options: Any
) -> MigrateResult:
    chosen: dict[str, Any] = {"resolve_conflicts": "OVERWRITE", "poll_interval": 1, "timeout": 30}
    return migrate_profiled(
        gateway=eks,
        profile=profile_for(eks.addon_name),
        kube=eks.cluster_objects,
        options=MigrateOptions(cluster="prod", addon=eks.addon_name, **{**chosen, **options}),
        state_directory=tmp_path,
        progress=(events if events is not None else []).append,
        confirm=lambda what: True,
        clock=FakeClock(),
    )


def self_managed_coredns(corefile: str = EDITED_COREFILE, replicas: int = 3) -> Cluster:
    return Cluster(
        coredns_configmap(corefile),
        coredns_deployment("v1.10.1-eksbuild.11", replicas=replicas, managers=["kubectl"]),
    )


def test_an_edited_corefile_and_the_replicas_are_carried_and_found_running(
    tmp_path: Path,
) -> None:
    eks = Eks("coredns", COREDNS_BUILDS, self_managed_coredns())
    events: list[Event] = []
    result = migrate(eks, tmp_path, events)
    (request,) = eks.requests
    assert str(request.version) == "v1.10.1-eksbuild.11"  # the same release and build
    assert json.loads(request.configuration_values or "") == {
        "corefile": EDITED_COREFILE,
        "replicaCount": 3,
    }
    assert request.resolve_conflicts == "OVERWRITE"
    assert result.notes == (
        "Corefile: plugin added: .:53 hosts",
        "Corefile: server block added: corp.example.com:53",
    )
    assert result.backup is not None
    saved = json.loads(result.backup.read_text())["objects"]
    assert {o["kind"] for o in saved} == {"ConfigMap", "Deployment"}
    assert any(o.get("data", {}).get("Corefile") == EDITED_COREFILE for o in saved)
    assert "no carried setting changed" in str(events[-1])


def test_the_newest_build_of_the_running_release_is_chosen_for_a_plain_tag(
    tmp_path: Path,
) -> None:
    cluster = Cluster(coredns_configmap(), coredns_deployment("v1.10.1", managers=["kubectl"]))
    eks = Eks("coredns", COREDNS_BUILDS, cluster)
    result = migrate(eks, tmp_path)
    assert str(result.version) == "v1.10.1-eksbuild.13"
    assert result.configuration_values is None  # the EKS default Corefile, two replicas


def test_settings_eks_then_loses_stop_the_run_part_way_naming_them(tmp_path: Path) -> None:
    eks = Eks("coredns", COREDNS_BUILDS, self_managed_coredns())
    eks.keep_settings = False  # EKS writes its defaults over the carried values
    with pytest.raises(UpgradeStoppedError) as stopped:
        migrate(eks, tmp_path)
    assert "coredns-configmap/Corefile" in stopped.value.message
    assert "coredns/replicas" in stopped.value.message
    assert stopped.value.hint is not None and "backed up in" in stopped.value.hint


def test_kube_proxy_ipvs_is_carried(tmp_path: Path) -> None:
    cluster = Cluster(
        kube_proxy_configmap(mode="ipvs", ipvs__scheduler="rr"),
        kube_proxy_daemonset("v1.29.7-minimal-eksbuild.5", managers=["kubectl-edit"]),
    )
    eks = Eks("kube-proxy", KUBE_PROXY_BUILDS, cluster, kubernetes="1.29")
    result = migrate(eks, tmp_path)
    assert str(result.version) == "v1.29.7-eksbuild.5"
    assert json.loads(result.configuration_values or "") == {
        "mode": "ipvs",
        "ipvs": {"scheduler": "rr"},
    }
    assert result.carried == (
        "kube-proxy-config/mode=ipvs",
        "kube-proxy-config/ipvs.scheduler=rr",
    )


def kube_proxy_with_timeouts() -> Cluster:
    return Cluster(
        kube_proxy_configmap(mode="ipvs", ipvs__tcpTimeout="15m0s"),
        kube_proxy_daemonset("v1.29.7-minimal-eksbuild.5", managers=["kubectl-edit"]),
    )


def test_what_the_schema_cannot_hold_is_refused_before_any_change(tmp_path: Path) -> None:
    eks = Eks("kube-proxy", KUBE_PROXY_BUILDS, kube_proxy_with_timeouts(), kubernetes="1.29")
    with pytest.raises(InputError) as refused:
        migrate(eks, tmp_path)
    assert "kube-proxy-config/ipvs.tcpTimeout=15m0s (no configuration key)" in refused.value.message
    assert "nothing was changed" in refused.value.message
    assert eks.calls["CreateAddon"] == 0
    assert not list(tmp_path.glob("backups/*"))


def test_force_drops_exactly_what_it_names(tmp_path: Path) -> None:
    eks = Eks("kube-proxy", KUBE_PROXY_BUILDS, kube_proxy_with_timeouts(), kubernetes="1.29")
    events: list[Event] = []
    result = migrate(eks, tmp_path, events, force=True)
    assert json.loads(result.configuration_values or "") == {"mode": "ipvs"}
    assert result.not_carried == ("kube-proxy-config/ipvs.tcpTimeout=15m0s",)
    assert (
        Notice("--force: dropping kube-proxy-config/ipvs.tcpTimeout=15m0s (not carried)") in events
    )


def test_a_value_the_schema_refuses_is_named_with_the_build(tmp_path: Path) -> None:
    cluster = Cluster(
        kube_proxy_configmap(mode="nftables"),
        kube_proxy_daemonset("v1.29.7-minimal-eksbuild.5", managers=["kubectl-edit"]),
    )
    eks = Eks("kube-proxy", KUBE_PROXY_BUILDS, cluster, kubernetes="1.29")
    with pytest.raises(InputError, match="mode=nftables \\(the v1.29.7-eksbuild.5 schema refuses"):
        migrate(eks, tmp_path)


def test_a_dry_run_shows_the_values_and_what_would_be_lost(tmp_path: Path) -> None:
    eks = Eks("kube-proxy", KUBE_PROXY_BUILDS, kube_proxy_with_timeouts(), kubernetes="1.29")
    result = migrate(eks, tmp_path, dry_run=True, resolve_conflicts=None)
    assert result.dry_run and result.configuration_values == '{"mode": "ipvs"}'
    assert result.not_carried == ("kube-proxy-config/ipvs.tcpTimeout=15m0s",)
    assert eks.calls["CreateAddon"] == 0


def test_an_unknown_image_tag_is_said_and_nothing_changes(tmp_path: Path) -> None:
    cluster = Cluster(kube_proxy_configmap(), kube_proxy_daemonset("v1.29.7"))
    eks = Eks("kube-proxy", KUBE_PROXY_BUILDS, cluster, kubernetes="1.29")
    with pytest.raises(InputError, match="which kube-proxy build .* is unknown: invalid image tag"):
        migrate(eks, tmp_path)
    assert eks.calls["CreateAddon"] == 0


def test_an_unreadable_kube_proxy_config_refuses(tmp_path: Path) -> None:
    broken = kube_proxy_configmap()
    broken["data"]["config"] = "mode: [ipvs"
    cluster = Cluster(broken, kube_proxy_daemonset())
    eks = Eks("kube-proxy", ["v1.28.8-eksbuild.5"], cluster, kubernetes="1.29")
    with pytest.raises(InputError, match="not readable YAML"):
        migrate(eks, tmp_path)
    assert eks.calls["CreateAddon"] == 0


def test_an_existing_eks_add_on_is_not_migrated(tmp_path: Path) -> None:
    eks = Eks("coredns", COREDNS_BUILDS, self_managed_coredns())
    eks.addon = {
        "version": AddonVersion.parse("v1.10.1-eksbuild.13"),
        "status": "ACTIVE",
        "issues": (),
        "configuration_values": None,
        "role": None,
    }
    with pytest.raises(InputError, match="already the EKS add-on"):
        migrate(eks, tmp_path)


def test_without_resolve_conflicts_it_is_refused(tmp_path: Path) -> None:
    eks = Eks("coredns", COREDNS_BUILDS, self_managed_coredns())
    with pytest.raises(InputError) as refused:
        migrate(eks, tmp_path, resolve_conflicts=None)
    assert "--resolve-conflicts overwrite" in refused.value.one_line()
    assert eks.calls["CreateAddon"] == 0


def test_an_absent_workload_is_nothing_to_migrate(tmp_path: Path) -> None:
    eks = Eks("coredns", COREDNS_BUILDS, Cluster(coredns_configmap()))
    with pytest.raises(InputError, match="Deployment kube-system/coredns is absent"):
        migrate(eks, tmp_path)


def test_rollout_behind_reads_both_kinds() -> None:
    deployment = coredns_deployment(replicas=3)
    rolled_out(deployment)
    assert rollout_behind(deployment, "d") is None
    deployment["status"]["updatedReplicas"] = 1
    assert rollout_behind(deployment, "d") == "d: updatedReplicas 1/3"
    daemonset = kube_proxy_daemonset()
    rolled_out(daemonset)
    daemonset["metadata"]["generation"] = 2
    assert rollout_behind(daemonset, "ds") == "ds: the controller has not observed generation 2 yet"


def test_force_is_refused_for_a_vpc_cni_migration_before_any_call(
    run: Callable[..., Result],
) -> None:
    result = run(
        "migrate", "--cluster", "prod", "--resolve-conflicts", "overwrite", "--force", "--yes"
    )
    assert result.code == 2
    assert "--force is not available for migrating vpc-cni" in result.err


def test_an_add_on_whose_settings_are_not_read_is_not_migrated(tmp_path: Path) -> None:
    eks = Eks("aws-ebs-csi-driver", ["v1.35.0-eksbuild.1"], Cluster())
    with pytest.raises(InputError, match="does not know where aws-ebs-csi-driver's settings"):
        migrate(eks, tmp_path)
    assert eks.calls["CreateAddon"] == 0
