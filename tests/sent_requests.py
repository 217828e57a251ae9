"""What a CLI run actually asks of AWS and of Kubernetes, recorded at the SDKs' last step.

tests/reliability/test_permissions.py runs commands in this process and holds what they sent to
the policies of docs/iam/. The recording sits where every request of the SDKs passes, below
eksaddon's gateways, so no call of eksaddon can go round it:

* AWS: ``botocore.client.BaseClient._make_api_call``, once per API request of every client
  (paginators included), named as the IAM action ``<signing name>:<operation>``
  (``eks:ListInsights``, ``sts:AssumeRole``);
* Kubernetes: ``kubernetes.client.rest.RESTClientObject.request``, the HTTP request itself,
  turned into the (verb, resource, API group, namespace, name) that RBAC authorizes it as; a
  server-side apply (``application/apply-patch+yaml``) is authorized as ``patch`` and, on an
  object that does not exist yet, as ``create``: both are recorded.

Both recorders are thread-safe: the gate issues its reads concurrently.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any, NamedTuple
from urllib.parse import parse_qs, urlsplit

import botocore.client
import kubernetes.client.rest
import pytest

APPLY_PATCH = "application/apply-patch+yaml"


class KubeRequest(NamedTuple):
    """One Kubernetes request as RBAC sees it."""

    verb: str
    resource: str  # with its subresource: daemonsets/status
    group: str  # "" for the core API
    namespace: str | None  # None: cluster-scoped, or across every namespace
    name: str | None  # None: a list or a create


def kube_request(method: str, url: str, content_type: str | None) -> list[KubeRequest]:
    """The RBAC requests of one HTTP request (two for a server-side apply: patch and create);
    none for discovery (/api, /apis, /version), which every authenticated user may read."""
    parts = urlsplit(url)
    segments = [s for s in parts.path.split("/") if s]
    if segments[:1] == ["api"] and len(segments) > 2:
        group, rest = "", segments[2:]
    elif segments[:1] == ["apis"] and len(segments) > 3:
        group, rest = segments[1], segments[3:]
    else:
        return []
    namespace = None
    if len(rest) > 2 and rest[0] == "namespaces":
        namespace, rest = rest[1], rest[2:]
    resource, name = rest[0], rest[1] if len(rest) > 1 else None
    if len(rest) > 2:
        resource = f"{resource}/{rest[2]}"
    watching = parse_qs(parts.query).get("watch", ["false"])[0] in ("true", "1")
    verb = {
        "GET": ("get" if name else "watch" if watching else "list"),
        "HEAD": "get" if name else "list",
        "POST": "create",
        "PUT": "update",
        "PATCH": "patch",
        "DELETE": "delete" if name else "deletecollection",
    }[method.upper()]
    found = [KubeRequest(verb, resource, group, namespace, name)]
    if verb == "patch" and (content_type or "").startswith(APPLY_PATCH):
        found.append(KubeRequest("create", resource, group, namespace, name))
    return found


class SentRequests:
    """Every AWS action and Kubernetes request made while recording."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.aws: set[str] = set()
        self.kube: set[KubeRequest] = set()

    def add_aws(self, action: str) -> None:
        with self._lock:
            self.aws.add(action)

    def add_kube(self, requests: list[KubeRequest]) -> None:
        with self._lock:
            self.kube.update(requests)

    def clear(self) -> None:
        with self._lock:
            self.aws.clear()
            self.kube.clear()


@contextmanager
def recording(
    monkeypatch: pytest.MonkeyPatch, *, not_from: Iterable[Any] = ()
) -> Iterator[SentRequests]:
    """Record what every botocore client and kubernetes REST client of this process sends,
    except the Kubernetes ``ApiClient``s of ``not_from`` (the test's own, which its stand-in
    controllers use while eksaddon waits)."""
    sent = SentRequests()
    ignored = {id(api.rest_client) for api in not_from}
    make_api_call: Callable[..., Any] = botocore.client.BaseClient._make_api_call
    request: Callable[..., Any] = kubernetes.client.rest.RESTClientObject.request

    def recorded_api_call(client: Any, operation_name: str, api_params: Any) -> Any:
        service = client.meta.service_model
        sent.add_aws(f"{service.signing_name}:{operation_name}")
        return make_api_call(client, operation_name, api_params)

    def recorded_request(rest: Any, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        if id(rest) in ignored:
            return request(rest, method, url, *args, **kwargs)
        headers = kwargs.get("headers") if "headers" in kwargs else (args[0] if args else None)
        content_type = (headers or {}).get("Content-Type")
        sent.add_kube(kube_request(method, url, content_type))
        return request(rest, method, url, *args, **kwargs)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", recorded_api_call)
    monkeypatch.setattr(kubernetes.client.rest.RESTClientObject, "request", recorded_request)
    yield sent
