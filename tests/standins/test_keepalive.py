"""The benchmarks' keep-alive server for the stand-in: moto's answers, over kept connections,
paced from each request's arrival (tests/standins/keepalive.py)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3
import pytest
from botocore.config import Config
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

from .eks_addons import active
from .keepalive import EksDispatch, KeepAliveServer, _eks_scope, read_key
from .server import (
    ACCESS_KEY_ID,
    SECRET_ACCESS_KEY,
    StandInServer,
    running_server,
)


@pytest.fixture(scope="module")
def paced_server() -> Iterator[StandInServer]:
    with running_server(keep_alive=True) as handle:
        yield handle


@pytest.fixture
def served(paced_server: StandInServer) -> StandInServer:
    paced_server.fresh()
    paced_server.create_cluster("prod", "1.29")
    paced_server.put_addon("prod", "v1.18.3-eksbuild.3")
    return paced_server


def client_of(
    server: KeepAliveServer, service: str, region: str, config: Config | None = None
) -> Any:
    """A boto3 client of ``service`` talking to ``server`` with the stand-in's credentials."""
    host, port = server.get_host_and_port()
    return boto3.client(
        service,
        region_name=region,
        endpoint_url=f"http://{host}:{port}",
        aws_access_key_id=ACCESS_KEY_ID,
        aws_secret_access_key=SECRET_ACCESS_KEY,
        config=config,
    )


def test_answers_are_moto_s_and_errors_stay_errors(served: StandInServer) -> None:
    client = served.client(retries={"max_attempts": 1})
    assert client.list_clusters()["clusters"] == ["prod"]
    assert client.describe_cluster(name="prod")["cluster"]["version"] == "1.29"
    addon = client.describe_addon(clusterName="prod", addonName="vpc-cni")["addon"]
    assert addon["addonVersion"] == "v1.18.3-eksbuild.3"
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.describe_cluster(name="absent")
    assert served.standin.calls["DescribeCluster"] == 2


def test_one_connection_serves_call_after_call(served: StandInServer) -> None:
    transport = served.transport
    assert isinstance(transport, KeepAliveServer)
    client = served.client(retries={"max_attempts": 1})
    client.list_clusters()  # opens the client's one connection
    before = transport.connections
    for _ in range(5):
        client.describe_cluster(name="prod")
    assert transport.connections == before  # werkzeug's server would have accepted five more


def test_the_latency_counts_from_arrival_and_the_stand_in_adds_none(
    served: StandInServer,
) -> None:
    """The server asks for the rest of the latency once per answer, and the stand-in does not
    sleep its own: at 5 s a request, a run that slept it would take seconds."""
    asked: list[float] = []
    app = EksDispatch(DomainDispatcherApplication(create_backend_app))
    server = KeepAliveServer(app, latency=lambda: 5.0, sleep=asked.append)
    server.start()
    try:
        served.standin.latency = 5.0
        client = client_of(server, "eks", served.region, Config(retries={"max_attempts": 1}))
        started = time.perf_counter()
        client.describe_cluster(name="prod")
        client.describe_addon(clusterName="prod", addonName="vpc-cni")
        elapsed = time.perf_counter() - started
    finally:
        served.standin.latency = 0.0
        server.stop()
    assert len(asked) == 2
    assert all(0 < wait <= 5.0 for wait in asked)
    assert elapsed < 2.5


def test_the_eks_application_is_found_once_per_region(served: StandInServer) -> None:
    lookups: list[str] = []

    class Counting(DomainDispatcherApplication):
        def get_application(self, environ: dict[str, Any]) -> Any:
            lookups.append(environ.get("PATH_INFO", ""))
            return super().get_application(environ)

    app = EksDispatch(Counting(create_backend_app))
    server = KeepAliveServer(app, latency=lambda: 0.0)
    server.start()
    try:
        client = client_of(server, "eks", served.region)
        for _ in range(3):
            client.describe_cluster(name="prod")
        sts = client_of(server, "sts", served.region)
        assert sts.get_caller_identity()["Account"]  # another service: moto dispatches it
    finally:
        server.stop()
    assert len(lookups) == 2  # the first EKS call, and the STS call


@pytest.mark.parametrize(
    ("header", "scope"),
    [
        (
            "AWS4-HMAC-SHA256 Credential=testing/20261202/us-west-2/eks/aws4_request, "
            "SignedHeaders=host, Signature=abc",
            "us-west-2/eks",
        ),
        (
            "AWS4-HMAC-SHA256 Credential=testing/20261202/us-west-2/sts/aws4_request, "
            "SignedHeaders=host, Signature=abc",
            None,
        ),
        ("AWS testing:signature", None),
        ("", None),
    ],
)
def test_only_signed_eks_calls_are_remembered(header: str, scope: str | None) -> None:
    assert _eks_scope(header) == scope


class _CountingApp:
    """The stand-in's WSGI application, counting the requests that reach moto."""

    def __init__(self) -> None:
        self.app = EksDispatch(DomainDispatcherApplication(create_backend_app))
        self.served = 0

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        self.served += 1
        return self.app(environ, start_response)


@pytest.fixture
def recording(served: StandInServer) -> Iterator[tuple[KeepAliveServer, _CountingApp, Any]]:
    """A keep-alive server of the stand-in that counts moto's requests, recording answers; a
    client of it."""
    app = _CountingApp()
    with _recording_server(app) as server:
        yield server, app, client_of(server, "eks", served.region, ONCE)


ONCE = Config(retries={"total_max_attempts": 1})


@contextmanager
def _recording_server(app: Any) -> Iterator[KeepAliveServer]:
    """A started keep-alive server of ``app`` (no latency), recording answers; stopped after."""
    server = KeepAliveServer(
        app,
        latency=lambda: 0.0,
        count_replayed=lambda operation: active().count_replayed(operation),
    )
    server.start()
    try:
        server.record_answers()
        yield server
    finally:
        server.stop()


def test_a_recorded_read_is_replayed_and_counted_as_a_call(
    served: StandInServer, recording: tuple[KeepAliveServer, _CountingApp, Any]
) -> None:
    server, app, client = recording
    first = client.describe_cluster(name="prod")["cluster"]
    server.replay_answers()
    served.standin.reset_counters()
    again = client.describe_cluster(name="prod")["cluster"]
    assert again == first
    assert app.served == 1  # the priming read only
    assert server.replayed == 1
    assert served.standin.calls["DescribeCluster"] == 1
    assert served.standin.history == ["DescribeCluster"]
    client.describe_addon(clusterName="prod", addonName="vpc-cni")  # never recorded: moto's
    assert app.served == 2
    server.forget_answers()
    client.describe_cluster(name="prod")
    assert app.served == 3


def test_a_write_drops_the_record(
    served: StandInServer, recording: tuple[KeepAliveServer, _CountingApp, Any]
) -> None:
    server, app, client = recording
    client.describe_addon(clusterName="prod", addonName="vpc-cni")
    client.update_addon(clusterName="prod", addonName="vpc-cni", addonVersion="v1.17.1-eksbuild.1")
    server.replay_answers()
    addon = client.describe_addon(clusterName="prod", addonName="vpc-cni")["addon"]
    assert addon["status"] == "UPDATING"  # moto's answer now, not the one recorded before
    assert server.replayed == 0
    assert app.served == 3


class _HoldingApp(_CountingApp):
    """Holds the answer of its first GET, moto's already made, until :attr:`release` is set."""

    def __init__(self) -> None:
        super().__init__()
        self.made, self.release = threading.Event(), threading.Event()
        self.held = False

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        if environ["REQUEST_METHOD"] != "GET" or self.held:
            return super().__call__(environ, start_response)
        self.held = True
        answer = list(super().__call__(environ, start_response))
        self.made.set()
        assert self.release.wait(60), "the test never released the held read"
        return answer


def test_a_read_answered_across_a_write_is_not_recorded(served: StandInServer) -> None:
    # The read's answer is made before the write and sent after it: recorded, it would be
    # replayed (ACTIVE) for an add-on that the write set UPDATING.
    app = _HoldingApp()
    with _recording_server(app) as server:
        try:
            reader, writer = (client_of(server, "eks", served.region, ONCE) for _ in range(2))
            read = threading.Thread(
                target=lambda: reader.describe_addon(clusterName="prod", addonName="vpc-cni")
            )
            read.start()
            assert app.made.wait(60)
            writer.update_addon(
                clusterName="prod", addonName="vpc-cni", addonVersion="v1.17.1-eksbuild.1"
            )
            app.release.set()
            read.join(60)
            server.replay_answers()
            addon = writer.describe_addon(clusterName="prod", addonName="vpc-cni")["addon"]
            assert addon["status"] == "UPDATING"
            assert server.replayed == 0
        finally:
            app.release.set()


def test_a_pending_fault_is_served_not_replayed(
    served: StandInServer, recording: tuple[KeepAliveServer, _CountingApp, Any]
) -> None:
    server, app, client = recording
    client.describe_cluster(name="prod")
    served.standin.inject_error(
        "DescribeCluster", code="ServerException", status=500, message="injected"
    )
    assert not served.standin.at_rest()
    server.replay_answers()
    with pytest.raises(client.exceptions.ServerException):
        client.describe_cluster(name="prod")
    assert served.standin.at_rest()
    client.describe_cluster(name="prod")  # the fault taken: the recorded answer again
    assert (app.served, server.replayed) == (2, 1)
    assert served.standin.calls["DescribeCluster"] == 3


def test_a_faulted_answer_is_never_recorded(
    served: StandInServer, recording: tuple[KeepAliveServer, _CountingApp, Any]
) -> None:
    server, app, client = recording
    served.standin.inject_error(
        "DescribeCluster", code="ServerException", status=500, message="injected"
    )
    with pytest.raises(client.exceptions.ServerException):
        client.describe_cluster(name="prod")
    server.replay_answers()
    assert client.describe_cluster(name="prod")["cluster"]["name"] == "prod"
    assert (app.served, server.replayed) == (2, 0)


def test_an_update_in_progress_is_not_at_rest(served: StandInServer) -> None:
    assert served.standin.at_rest()
    client = served.client(retries={"total_max_attempts": 1})
    client.update_addon(clusterName="prod", addonName="vpc-cni", addonVersion="v1.17.1-eksbuild.1")
    assert not served.standin.at_rest()


@pytest.mark.parametrize(
    ("method", "path", "header", "key"),
    [
        (
            "GET",
            "/clusters/prod",
            "AWS4-HMAC-SHA256 Credential=testing/20261202/us-west-2/eks/aws4_request, "
            "SignedHeaders=host, Signature=abc",
            ("testing", "us-west-2", "/clusters/prod"),
        ),
        (
            "GET",
            "/clusters/prod",
            "AWS4-HMAC-SHA256 Credential=testing/20261202/eu-west-1/eks/aws4_request, "
            "SignedHeaders=host, Signature=abc",
            ("testing", "eu-west-1", "/clusters/prod"),
        ),
        (
            "POST",
            "/clusters/prod/addons/vpc-cni/update",
            "AWS4-HMAC-SHA256 Credential=testing/20261202/us-west-2/eks/aws4_request, "
            "SignedHeaders=host, Signature=abc",
            None,
        ),
        ("GET", "/", "AWS testing:signature", None),
    ],
)
def test_a_read_is_known_by_its_credentials_region_and_path(
    method: str, path: str, header: str, key: tuple[str, str, str] | None
) -> None:
    assert read_key(method, path, header) == key
