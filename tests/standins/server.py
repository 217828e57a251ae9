"""A moto server on 127.0.0.1 with the EKS add-on stand-in, for boto3 clients and CLI subprocesses.

The server runs in a thread of the test process, so the stand-in's state, fault controls and
counters are plain Python objects the test reads and sets directly, while a CLI started as a
subprocess reaches the same state over HTTP through `AWS_ENDPOINT_URL_EKS` (see `env()`).

Fixtures (import them into a test module, or list this module in a conftest's imports):
  eks_server   session-wide StandInServer (one moto server for the whole run)
  eks_standin  the same server with a fresh StandIn and empty moto EKS backends for one test
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import boto3  # type: ignore[import-untyped, unused-ignore]
import pytest
from botocore.config import Config  # type: ignore[import-untyped, unused-ignore]
from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.eks.models import eks_backends
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from moto.server import ThreadedMotoServer

from .eks_addons import (
    DEFAULT_REGION,
    VPC_CNI,
    AddonRecord,
    StandIn,
    active,
    install,
    moto_backend_reset,
    uninstall,
)
from .eks_upgrade import InsightRecord
from .keepalive import EksDispatch, KeepAliveServer

ACCESS_KEY_ID = "testing"
SECRET_ACCESS_KEY = "testing"
CLUSTER_ROLE_ARN = f"arn:aws:iam::{DEFAULT_ACCOUNT_ID}:role/eks-standin-cluster"
NODE_ROLE_ARN = f"arn:aws:iam::{DEFAULT_ACCOUNT_ID}:role/eks-standin-node"

# Variables that would point a subprocess somewhere else than the stand-in.
_FOREIGN_AWS_VARIABLES = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_ENDPOINT_URL",
    "AWS_ROLE_ARN",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
)


class StandInServer:
    """A running moto server with the add-on extension, and the StandIn it serves."""

    def __init__(
        self,
        server: ThreadedMotoServer | KeepAliveServer,
        url: str,
        standin: StandIn,
        *,
        region: str = DEFAULT_REGION,
        account_id: str = DEFAULT_ACCOUNT_ID,
    ) -> None:
        self._server = server
        self.url = url
        self.standin = standin
        self.region = region
        self.account_id = account_id

    def client(self, *, retries: Mapping[str, Any] | None = None, **config: Any) -> Any:
        """A boto3 EKS client for this server (retries: e.g. {"mode": "standard", "max_attempts": 5})."""
        options: dict[str, Any] = dict(config)
        if retries is not None:
            options["retries"] = dict(retries)
        return boto3.client(
            "eks",
            region_name=self.region,
            endpoint_url=self.url,
            aws_access_key_id=ACCESS_KEY_ID,
            aws_secret_access_key=SECRET_ACCESS_KEY,
            config=Config(**options),
        )

    def env(self, base: Mapping[str, str] | None = None) -> dict[str, str]:
        """Environment for a subprocess (e.g. the CLI) that must talk to this server only."""
        environment = dict(os.environ if base is None else base)
        for name in _FOREIGN_AWS_VARIABLES:
            environment.pop(name, None)
        environment.update(
            {
                "AWS_ENDPOINT_URL_EKS": self.url,
                "AWS_ACCESS_KEY_ID": ACCESS_KEY_ID,
                "AWS_SECRET_ACCESS_KEY": SECRET_ACCESS_KEY,
                "AWS_DEFAULT_REGION": self.region,
                "AWS_REGION": self.region,
                "AWS_CONFIG_FILE": os.devnull,
                "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
                "AWS_EC2_METADATA_DISABLED": "true",
            }
        )
        return environment

    def create_cluster(
        self,
        name: str,
        kubernetes_version: str = "1.29",
        *,
        tags: Mapping[str, str] | None = None,
    ) -> None:
        """An ACTIVE moto cluster at this Kubernetes version (made in the backend: no request counted)."""
        with self.standin.lock:
            eks_backends[self.account_id][self.region].create_cluster(
                name=name,
                role_arn=CLUSTER_ROLE_ARN,
                resources_vpc_config={
                    "subnetIds": [],
                    "securityGroupIds": [],
                    "endpointPublicAccess": True,
                    "endpointPrivateAccess": False,
                },
                version=kubernetes_version,
                tags=dict(tags or {}),
            )

    def put_addon(
        self,
        cluster_name: str,
        version: str,
        *,
        addon_name: str = VPC_CNI,
        status: str = "ACTIVE",
        configuration_values: str | None = None,
        service_account_role_arn: str | None = None,
        health_issues: Sequence[Mapping[str, Any]] = (),
        pod_identity_associations: Sequence[tuple[str, str]] = (),
    ) -> AddonRecord:
        """An add-on at any version on an existing cluster, bypassing CreateAddon's checks
        (pod_identity_associations: the (service account, role ARN) pairs it owns)."""
        cluster = eks_backends[self.account_id][self.region].clusters.get(cluster_name)
        if cluster is None:
            raise LookupError(f"no cluster {cluster_name!r}: call create_cluster() first")
        return self.standin.put_addon(
            cluster_name,
            version,
            addon_name=addon_name,
            status=status,
            account_id=self.account_id,
            region=self.region,
            configuration_values=configuration_values,
            service_account_role_arn=service_account_role_arn,
            health_issues=health_issues,
            cluster=cluster,
            pod_identity_associations=pod_identity_associations,
        )

    def create_nodegroup(
        self,
        cluster_name: str,
        name: str,
        kubernetes_version: str | None = None,
        *,
        release_version: str | None = None,
        status: str | None = None,
    ) -> Any:
        """A managed node group at any Kubernetes version (default: the cluster's), made in
        moto's backend; ListNodegroups / DescribeNodegroup are moto's own."""
        with self.standin.lock:
            backend = eks_backends[self.account_id][self.region]
            cluster = backend.clusters.get(cluster_name)
            if cluster is None:
                raise LookupError(f"no cluster {cluster_name!r}: call create_cluster() first")
            version = kubernetes_version or str(cluster.version)
            group = backend.create_nodegroup(
                cluster_name=cluster_name,
                node_role=NODE_ROLE_ARN,
                nodegroup_name=name,
                subnets=["subnet-standin"],
                version=version,
                release_version=release_version or f"{version}.0-20240910",
            )
            if status is not None:
                group.status = status
            return group

    def set_nodegroup_version(
        self,
        cluster_name: str,
        name: str,
        kubernetes_version: str,
        release_version: str | None = None,
    ) -> None:
        """Move a node group to another version (what `eksctl upgrade nodegroup` would do)."""
        with self.standin.lock:
            group = (
                eks_backends[self.account_id][self.region].clusters[cluster_name].nodegroups[name]
            )
            group.version = kubernetes_version
            group.release_version = release_version or f"{kubernetes_version}.0-20240910"

    def cluster(self, cluster_name: str) -> Any:
        """moto's Cluster object (its .version moves when a control-plane update succeeds)."""
        return eks_backends[self.account_id][self.region].clusters[cluster_name]

    def put_insight(self, cluster_name: str, insight: InsightRecord) -> InsightRecord:
        """Seed an insight of an existing cluster (see eks_upgrade's factories)."""
        if cluster_name not in eks_backends[self.account_id][self.region].clusters:
            raise LookupError(f"no cluster {cluster_name!r}: call create_cluster() first")
        return self.standin.put_insight(
            cluster_name, insight, account_id=self.account_id, region=self.region
        )

    def fresh(self, standin: StandIn | None = None) -> StandIn:
        """Serve a new StandIn from now on and empty moto's EKS backends (clusters and all)."""
        with self.standin.lock:
            moto_backend_reset()
            self.standin = install(standin if standin is not None else StandIn())
        return self.standin

    @property
    def transport(self) -> ThreadedMotoServer | KeepAliveServer:
        """The HTTP server (a KeepAliveServer counts the requests it serves at once)."""
        return self._server

    def stop(self) -> None:
        self._server.stop()


def start_server(
    standin: StandIn | None = None,
    *,
    host: str = "127.0.0.1",
    quiet: bool = True,
    keep_alive: bool = False,
) -> StandInServer:
    """Install the extension, start moto's ThreadedMotoServer on a free port, return its handle.

    ``keep_alive``: serve through tests/standins/keepalive.py instead (connections kept open, the
    StandIn's latency counted from each request's arrival): what benchmarks use.
    """
    if quiet:
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
    installed = install(standin)
    server: ThreadedMotoServer | KeepAliveServer
    if keep_alive:
        server = KeepAliveServer(
            EksDispatch(DomainDispatcherApplication(create_backend_app)),
            host=host,
            latency=lambda: active().latency,
            count_replayed=lambda operation: active().count_replayed(operation),
        )
    else:
        server = ThreadedMotoServer(ip_address=host, port=0, verbose=False)
    server.start()
    bound_host, port = server.get_host_and_port()
    return StandInServer(server, f"http://{bound_host}:{port}", installed)


@contextmanager
def running_server(
    standin: StandIn | None = None, *, keep_alive: bool = False
) -> Iterator[StandInServer]:
    """start_server() … stop(), and uninstall the extension afterwards."""
    handle = start_server(standin, keep_alive=keep_alive)
    try:
        yield handle
    finally:
        handle.stop()
        uninstall()


@pytest.fixture(scope="session")
def eks_server() -> Iterator[StandInServer]:
    """One stand-in server for the whole session (use `eks_standin` for per-test isolation)."""
    with running_server() as handle:
        yield handle


@pytest.fixture
def eks_standin(eks_server: StandInServer) -> StandInServer:
    """The session's server with a fresh StandIn and no clusters: set faults on `.standin`."""
    eks_server.fresh()
    return eks_server
