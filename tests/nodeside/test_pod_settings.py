"""Resources, tolerations and affinity count as custom settings, survive render, and carry."""

from __future__ import annotations

import json

from eksaddon.addons.vpc_cni import carry
from eksaddon.matrix import Matrix
from eksaddon.nodeside.detect import Customization, detect
from eksaddon.nodeside.render import render
from eksaddon.versions import AddonVersion

V = AddonVersion.parse
RESOURCES = {"requests": {"cpu": "50m", "memory": "128Mi"}}
TOLERATIONS = [
    {"key": "dedicated", "operator": "Equal", "value": "network", "effect": "NoSchedule"}
]


def customized(bundled: Matrix) -> dict:  # type: ignore[type-arg]
    objects = render(V("v1.18.3"), "us-west-2", matrix=bundled)
    daemonset = next(o for o in objects if o["kind"] == "DaemonSet")
    pod = daemonset["spec"]["template"]["spec"]
    pod["tolerations"] = TOLERATIONS
    next(c for c in pod["containers"] if c["name"] == "aws-node")["resources"] = RESOURCES
    return daemonset


def test_detected_against_the_releases_manifest(bundled: Matrix) -> None:
    found = {
        (c.container, c.kind): c
        for c in detect(customized(bundled), bundled, label="x").customizations
    }
    assert set(found) == {("aws-node", "resources"), ("(pod)", "tolerations")}
    assert json.loads(found[("aws-node", "resources")].value or "") == RESOURCES
    assert json.loads(found[("(pod)", "tolerations")].default or "") == [{"operator": "Exists"}]


def test_defaults_are_not_customizations(bundled: Matrix) -> None:
    objects = render(V("v1.13.4"), "eu-west-1", matrix=bundled)
    daemonset = next(o for o in objects if o["kind"] == "DaemonSet")
    assert detect(daemonset, bundled, label="x").customizations == ()


def test_render_carries_them_and_detect_finds_them_again(bundled: Matrix) -> None:
    settings = detect(customized(bundled), bundled, label="x").customizations
    objects = render(V("v1.17.1"), "us-west-2", customizations=settings, matrix=bundled)
    daemonset = next(o for o in objects if o["kind"] == "DaemonSet")
    again = detect(daemonset, bundled, label="x").customizations
    assert {(c.container, c.kind, c.value) for c in again} == {
        (c.container, c.kind, c.value) for c in settings
    }


def test_configuration_values_hold_them(bundled: Matrix) -> None:
    settings = (
        *detect(customized(bundled), bundled, label="x").customizations,
        Customization("aws-eks-nodeagent", "--enable-policy-event-logs", "true", "false", "arg"),
        Customization("aws-eks-nodeagent", "--metrics-bind-addr", ":9100", ":8162", "arg"),
        Customization("aws-eks-nodeagent", "--conntrack-cache-cleanup-period", "60", "300", "arg"),
    )
    result = carry({}, settings)
    assert result.values == {
        "resources": RESOURCES,
        "tolerations": TOLERATIONS,
        "nodeAgent": {"enablePolicyEventLogs": "true", "metricsBindAddr": "9100"},
    }
    assert [c.name for c in result.not_carried] == ["--conntrack-cache-cleanup-period"]


def test_a_carried_value_that_became_the_default_is_not_lost(bundled: Matrix) -> None:
    from eksaddon.addons.base import drifted
    from eksaddon.nodeside.detect import live_values

    assert bundled.daemonset is not None
    # ENABLE_SUBNET_DISCOVERY was a custom env before v1.18.0 and is the default "true" from it.
    objects = render(V("v1.18.3"), "us-west-2", matrix=bundled)
    daemonset = next(o for o in objects if o["kind"] == "DaemonSet")
    running = live_values(daemonset, bundled.daemonset, label="x")
    carried = [Customization("aws-node", "ENABLE_SUBNET_DISCOVERY", "true", None)]
    assert drifted(carried, running) == []
    changed = [Customization("aws-node", "ENABLE_SUBNET_DISCOVERY", "false", None)]
    assert drifted(changed, running) == [
        "aws-node/ENABLE_SUBNET_DISCOVERY: expected 'false', found 'true'"
    ]
