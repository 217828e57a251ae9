"""The stand-in's catalogues against the facts in ../shared/domain/addons (skipped without them):
every build a source shows offered is offered, the capture's "not compatible" examples are not,
and the sourced defaults are the defaults."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from .catalogues import BUNDLED_ADDONS, SHARED_ADDONS, bundled_catalogue

pytestmark = pytest.mark.skipif(
    not SHARED_ADDONS.is_dir(), reason="../shared/domain/addons is not beside the repository"
)


def facts(addon: str) -> dict[str, Any]:
    document = yaml.safe_load((SHARED_ADDONS / f"{addon}.yaml").read_text(encoding="utf-8"))
    assert isinstance(document, dict)
    return document


def build_of(text: str) -> str:
    return text.split(" ")[0]  # "v1.29.0-eksbuild.1 (defaultVersion true)"


@pytest.mark.parametrize("addon", ["kube-proxy", "coredns"])
def test_the_2024_09_latest_table_is_offered(addon: str) -> None:
    catalogue = bundled_catalogue()
    table = facts(addon)["latest_per_kubernetes_2024_09"]["eks_addon"]
    assert len(table) == 8
    for kubernetes, build in table.items():
        assert catalogue.offers(addon, build, kubernetes), (addon, build, kubernetes)


@pytest.mark.parametrize("addon", ["kube-proxy", "coredns", "aws-ebs-csi-driver"])
def test_the_1_29_capture_is_offered_and_its_counter_examples_are_not(addon: str) -> None:
    catalogue = bundled_catalogue()
    capture = facts(addon)["compatibility_k8s_1.29_circa_2024_04"]
    for text in capture["compatible"]:
        assert catalogue.offers(addon, build_of(text), "1.29"), text
    for text in capture["not_compatible_examples"]:
        if " " in text:  # "v1.19.0-eksbuild.2 and older"
            continue
        assert not catalogue.offers(addon, text, "1.29"), text
    defaults = [build_of(t) for t in capture["compatible"] if "default" in t]
    assert [catalogue.default_version(addon, "1.29")] == defaults


def test_the_pod_identity_agent_default_for_1_29() -> None:
    catalogue = bundled_catalogue()
    builds = [b["build"] for b in facts("eks-pod-identity-agent")["builds_seen"]]
    assert "v1.2.0-eksbuild.1" in builds
    assert catalogue.default_version("eks-pod-identity-agent", "1.29") == "v1.2.0-eksbuild.1"


def test_every_bundled_addon_is_in_the_catalogue() -> None:
    assert set(bundled_catalogue().addon_names()) == {"vpc-cni", *BUNDLED_ADDONS}
