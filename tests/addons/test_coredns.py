"""CoreDNS's Corefile edits and replica count, carried against the real v1.10.1 schema."""

from __future__ import annotations

import json
from typing import Any

import pytest
from addon_objects import (
    COREDNS_SCHEMA,
    CORP_BLOCK,
    DEFAULT_COREFILE,
    EDITED_COREFILE,
    configmap,
    coredns_configmap,
    coredns_deployment,
    schema,
)

from eksaddon.addons import profile_for
from eksaddon.addons.base import Objects, drifted, unknown_to_schema
from eksaddon.addons.coredns import (
    CONFIG_MAP,
    DEPLOYMENT,
    CoreDnsProfile,
    CoreDnsSettings,
    corefile_warnings,
    read_corefile,
)
from eksaddon.configvalues import fits
from eksaddon.errors import InputError
from eksaddon.matrix.model import AddonType

RULES = CoreDnsSettings()
PROFILE = profile_for("coredns")
MATRIX = PROFILE.matrix


def objects(corefile: str = DEFAULT_COREFILE, **deployment: Any) -> Objects:
    return {CONFIG_MAP: coredns_configmap(corefile), DEPLOYMENT: coredns_deployment(**deployment)}


def test_the_profile_is_registered_with_a_deployment() -> None:
    assert isinstance(PROFILE, CoreDnsProfile)
    assert str(PROFILE.workloads[0].kind) == "Deployment"


def test_the_eks_default_corefile_and_two_replicas_are_no_customization() -> None:
    assert RULES.custom(objects(), MATRIX) == ()


def test_a_reformatted_and_commented_default_is_no_edit() -> None:
    reformatted = "# kept as EKS ships it\n" + DEFAULT_COREFILE.replace("    ", "\t")
    assert read_corefile(coredns_configmap(reformatted)).edits == ()


def test_edits_are_listed_and_the_whole_corefile_is_carried_with_the_replicas() -> None:
    reading = read_corefile(coredns_configmap(EDITED_COREFILE))
    assert reading.describe() == [
        "plugin added: .:53 hosts",
        "server block added: corp.example.com:53",
    ]
    found = RULES.custom(objects(EDITED_COREFILE, replicas=3), MATRIX)
    carried = RULES.carry({}, found)
    # The text itself, comments included: nothing of the operator's edit is lost.
    assert carried.values == {"corefile": EDITED_COREFILE, "replicaCount": 3}
    assert carried.not_carried == ()
    assert fits(carried.values, schema(COREDNS_SCHEMA))
    assert unknown_to_schema(RULES, found, lambda d: fits(d, schema(COREDNS_SCHEMA))) == []


def test_a_changed_and_a_removed_plugin_are_edits() -> None:
    edited = DEFAULT_COREFILE.replace("forward . /etc/resolv.conf", "forward . 10.0.0.2").replace(
        "    loop\n", ""
    )
    assert read_corefile(coredns_configmap(edited)).describe() == [
        "plugin changed: .:53 forward",
        "plugin removed: .:53 loop",
    ]


def test_a_corefile_without_ready_is_warned_about() -> None:
    reading = read_corefile(coredns_configmap(DEFAULT_COREFILE.replace("    ready\n", "")))
    assert "readiness probe" in corefile_warnings(reading)[0]
    assert corefile_warnings(read_corefile(coredns_configmap(EDITED_COREFILE))) == []


@pytest.mark.parametrize(
    "corefile",
    [
        ".:53 {\n    errors\n",  # never closed
        "errors\n}\n",  # a brace with no server block
        "",  # nothing at all
    ],
)
def test_an_unreadable_corefile_is_said_and_carried_whole(corefile: str) -> None:
    reading = read_corefile(coredns_configmap(corefile))
    assert reading.unreadable is not None
    assert "cannot be read" in reading.describe()[0]
    (setting,) = RULES.custom(objects(corefile), MATRIX)
    assert setting.value == corefile and setting.default is None


@pytest.mark.parametrize(
    "configuration", [None, configmap("coredns", {"Corefile.bak": CORP_BLOCK})]
)
def test_no_corefile_at_all_is_an_error(configuration: dict[str, Any] | None) -> None:
    with pytest.raises(InputError, match="Corefile cannot be read"):
        RULES.custom({CONFIG_MAP: configuration, DEPLOYMENT: coredns_deployment()}, MATRIX)


def test_replicas_that_are_not_a_number_are_said() -> None:
    with pytest.raises(InputError, match="replica count cannot be read"):
        RULES.custom(objects(replicas="three"), MATRIX)


def test_node_selector_is_carried_and_fits_the_schema() -> None:
    found = RULES.custom(objects(node_selector={"role": "dns"}), MATRIX)
    carried = RULES.carry({}, found)
    assert carried.values == {"nodeSelector": {"role": "dns"}}
    assert fits(carried.values, schema(COREDNS_SCHEMA))


def test_running_shows_a_lost_corefile_block_and_replica_count() -> None:
    expected = RULES.custom(objects(EDITED_COREFILE, replicas=3), MATRIX)
    assert drifted(expected, RULES.running(objects(EDITED_COREFILE, replicas=3), MATRIX)) == []
    lost = drifted(expected, RULES.running(objects(), MATRIX))
    assert [line.split(":")[0] for line in lost] == [
        "coredns-configmap/Corefile",
        "coredns/replicas",
    ]


def test_remove_drops_what_is_named() -> None:
    values = {"corefile": EDITED_COREFILE, "replicaCount": 3, "tolerations": []}
    assert RULES.remove(values, ["Corefile"]) == {"replicaCount": 3, "tolerations": []}


def test_the_schema_refuses_a_replica_count_that_is_not_an_integer() -> None:
    assert not fits(json.loads('{"replicaCount": "3"}'), schema(COREDNS_SCHEMA))


@pytest.mark.parametrize(
    ("managers", "expected"),
    [
        (["eks"], AddonType.MANAGED),
        (["kube-controller-manager", "kubectl"], AddonType.SELF_MANAGED),
    ],
)
def test_who_manages_comes_from_the_deployment(managers: list[str], expected: AddonType) -> None:
    assert PROFILE.who_manages(objects(managers=managers)) is expected


def test_settings_read_back_from_a_journal_without_their_kind_carry_the_same() -> None:
    # A run's journal keeps container, name and value: the kind is back to its default.
    found = RULES.custom(objects(EDITED_COREFILE, replicas=3, node_selector={"a": "b"}), MATRIX)
    again = [s._replace(kind="env") for s in found]
    assert RULES.carry({}, again).values == RULES.carry({}, found).values
