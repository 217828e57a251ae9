"""kube-proxy's settings from its ConfigMap and DaemonSet, carried against the real v1.28.8 schema."""

from __future__ import annotations

from typing import Any

import pytest
from addon_objects import (
    KUBE_PROXY_SCHEMA,
    configmap,
    kube_proxy_configmap,
    kube_proxy_daemonset,
    schema,
)

from eksaddon.addons import profile_for
from eksaddon.addons.base import Objects, drifted, unknown_to_schema
from eksaddon.addons.kube_proxy import (
    CONFIG_MAP,
    DAEMONSET,
    KubeProxyProfile,
    KubeProxySettings,
    running_version,
)
from eksaddon.configvalues import fits
from eksaddon.errors import InputError
from eksaddon.matrix.model import AddonType
from eksaddon.versions import AddonVersion

RULES = KubeProxySettings()
PROFILE = profile_for("kube-proxy")
MATRIX = PROFILE.matrix


def objects(
    configuration: dict[str, Any] | None = None, daemonset: dict[str, Any] | None = None
) -> Objects:
    return {
        CONFIG_MAP: kube_proxy_configmap() if configuration is None else configuration,
        DAEMONSET: kube_proxy_daemonset() if daemonset is None else daemonset,
    }


def names(found: Any) -> list[str]:
    return [f"{s.container}/{s.name}={s.value}" for s in found]


def test_the_profile_is_registered_and_reads_both_objects() -> None:
    assert isinstance(PROFILE, KubeProxyProfile)
    assert RULES.sources(MATRIX) == (DAEMONSET, CONFIG_MAP)


def test_eks_defaults_are_no_customization() -> None:
    assert RULES.custom(objects(), MATRIX) == ()


def test_an_empty_mode_and_absent_fields_are_the_defaults() -> None:
    configuration = configmap(
        "kube-proxy-config", {"config": "mode: ''\nkind: KubeProxyConfiguration\n"}
    )
    assert RULES.custom(objects(configuration), MATRIX) == ()


def test_ipvs_mode_and_scheduler_are_carried_and_fit_the_real_schema() -> None:
    found = RULES.custom(objects(kube_proxy_configmap(mode="ipvs", ipvs__scheduler="lc")), MATRIX)
    assert names(found) == ["kube-proxy-config/mode=ipvs", "kube-proxy-config/ipvs.scheduler=lc"]
    carried = RULES.carry({}, found)
    assert carried.values == {"mode": "ipvs", "ipvs": {"scheduler": "lc"}}
    assert carried.not_carried == ()
    assert fits(carried.values, schema(KUBE_PROXY_SCHEMA))
    assert unknown_to_schema(RULES, found, lambda d: fits(d, schema(KUBE_PROXY_SCHEMA))) == []


def test_settings_the_schema_has_no_key_for_are_reported_not_dropped() -> None:
    configuration = kube_proxy_configmap(
        mode="ipvs",
        ipvs__tcpTimeout="15m0s",
        iptables__masqueradeAll=True,
        conntrack__maxPerCore=0,
        metricsBindAddress="0.0.0.0:10249",
    )
    daemonset = kube_proxy_daemonset(
        extra_args=["--hostname-override=$(NODE_NAME)", "--conntrack-min=0"],
        env={"HTTPS_PROXY": "http://proxy.internal:3128"},
    )
    carried = RULES.carry({}, RULES.custom(objects(configuration, daemonset), MATRIX))
    assert carried.values == {"mode": "ipvs"}
    assert sorted(names(carried.not_carried)) == [
        "kube-proxy-config/conntrack.maxPerCore=0",
        "kube-proxy-config/iptables.masqueradeAll=true",
        "kube-proxy-config/ipvs.tcpTimeout=15m0s",
        "kube-proxy-config/metricsBindAddress=0.0.0.0:10249",
        "kube-proxy/--conntrack-min=0",
        "kube-proxy/--hostname-override=$(NODE_NAME)",
        "kube-proxy/HTTPS_PROXY=http://proxy.internal:3128",
    ]


def test_a_mode_the_schema_does_not_allow_is_found_by_the_schema_check() -> None:
    found = RULES.custom(objects(kube_proxy_configmap(mode="nftables")), MATRIX)
    refused = unknown_to_schema(RULES, found, lambda d: fits(d, schema(KUBE_PROXY_SCHEMA)))
    assert names(refused) == ["kube-proxy-config/mode=nftables"]


def test_a_wrong_type_is_a_customization_not_the_default() -> None:
    # True == 1 in Python: a bool where an integer belongs must not pass as the default 14.
    found = RULES.custom(objects(kube_proxy_configmap(iptables__masqueradeBit=True)), MATRIX)
    assert names(found) == ["kube-proxy-config/iptables.masqueradeBit=true"]


def test_durations_compare_by_length_of_time() -> None:
    same = kube_proxy_configmap(iptables__syncPeriod="0h0m30s", ipvs__udpTimeout="0")
    assert RULES.custom(objects(same), MATRIX) == ()


def test_resources_go_to_the_resources_key_and_fit_the_schema() -> None:
    resources = {"requests": {"cpu": "200m", "memory": "64Mi"}}
    found = RULES.custom(objects(daemonset=kube_proxy_daemonset(resources=resources)), MATRIX)
    carried = RULES.carry({}, found)
    assert carried.values == {"resources": resources}
    assert fits(carried.values, schema(KUBE_PROXY_SCHEMA))


def test_values_already_set_win_and_remove_drops_what_force_names() -> None:
    found = RULES.custom(objects(kube_proxy_configmap(mode="ipvs", ipvs__scheduler="rr")), MATRIX)
    carried = RULES.carry({"mode": "iptables", "podLabels": {"a": "b"}}, found)
    assert carried.values == {
        "mode": "iptables",
        "ipvs": {"scheduler": "rr"},
        "podLabels": {"a": "b"},
    }
    assert RULES.remove(carried.values, ["ipvs.scheduler", "mode"]) == {"podLabels": {"a": "b"}}


def test_running_holds_every_compared_field_so_a_lost_mode_is_drift() -> None:
    expected = RULES.custom(objects(kube_proxy_configmap(mode="ipvs")), MATRIX)
    assert (
        drifted(expected, RULES.running(objects(kube_proxy_configmap(mode="ipvs")), MATRIX)) == []
    )
    lost = drifted(expected, RULES.running(objects(), MATRIX))
    assert lost == ["kube-proxy-config/mode: expected 'ipvs', found 'iptables'"]


@pytest.mark.parametrize(
    ("configuration", "said"),
    [
        (None, "is absent"),
        (configmap("kube-proxy-config", {}), "has no data.config"),
        (configmap("kube-proxy-config", {"config": "mode: [ipvs"}), "not readable YAML"),
        (configmap("kube-proxy-config", {"config": "- ipvs"}), "not a KubeProxyConfiguration"),
    ],
)
def test_an_unreadable_configuration_is_said_never_guessed(
    configuration: dict[str, Any] | None, said: str
) -> None:
    with pytest.raises(InputError, match=said):
        RULES.custom({CONFIG_MAP: configuration, DAEMONSET: kube_proxy_daemonset()}, MATRIX)


@pytest.mark.parametrize(
    ("tag", "version"),
    [
        ("v1.29.7-minimal-eksbuild.5", "v1.29.7-eksbuild.5"),
        ("v1.24.10-eksbuild.2", "v1.24.10-eksbuild.2"),  # the default image before 1.25
    ],
)
def test_the_image_tag_shows_the_add_on_build(tag: str, version: str) -> None:
    reading = running_version(PROFILE.workloads[0], kube_proxy_daemonset(tag))
    assert reading.version == AddonVersion.parse(version)


@pytest.mark.parametrize("tag", ["v1.29.7", "latest", "v1.29.7-minimal"])
def test_an_unknown_tag_form_is_said_not_guessed(tag: str) -> None:
    reading = running_version(PROFILE.workloads[0], kube_proxy_daemonset(tag))
    assert reading.version is None
    assert reading.why_unknown is not None and tag in reading.why_unknown


@pytest.mark.parametrize(
    ("managers", "expected"),
    [
        (["eks", "kubectl-edit"], AddonType.MANAGED),
        (["kubectl-client-side-apply"], AddonType.SELF_MANAGED),
        (None, None),
    ],
)
def test_who_manages_comes_from_the_field_managers(
    managers: list[str] | None, expected: AddonType | None
) -> None:
    found = PROFILE.who_manages(objects(daemonset=kube_proxy_daemonset(managers=managers)))
    assert found is expected


def test_resources_read_back_from_a_journal_without_their_kind_carry_the_same() -> None:
    resources = {"requests": {"cpu": "200m"}}
    found = RULES.custom(objects(daemonset=kube_proxy_daemonset(resources=resources)), MATRIX)
    again = [s._replace(kind="env") for s in found]
    assert RULES.carry({}, again).values == {"resources": resources}
