"""Stand-ins for the end-to-end tests: EKS (moto + add-on operations) and a real kube-apiserver,
and the self-managed cluster the Helm and self-managed tests share (tests/e2e/selfmanaged.py)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from e2e.selfmanaged import SelfManagedCluster
from standins.kube import KubeApiServer, kube_apiserver, kube_fresh
from standins.server import StandInServer, eks_server, eks_standin
from tests_support import Result

__all__ = ["eks_server", "eks_standin", "kube_apiserver", "kube_fresh"]


@pytest.fixture
def self_managed(
    eks_standin: StandInServer,
    kube_fresh: KubeApiServer,
    tmp_path: Path,
    run: Callable[..., Result],
    request: pytest.FixtureRequest,
) -> SelfManagedCluster:
    """A SelfManagedCluster, not yet created (``.create(kubernetes_version)``). The fast clock is
    taken only by the first in-process run: the installed CLI's runs keep real time."""
    return SelfManagedCluster(
        eks_standin,
        kube_fresh,
        tmp_path,
        run,
        lambda: request.getfixturevalue("fast_clock"),
    )
