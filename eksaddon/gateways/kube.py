"""The Kubernetes gateway: the only module that imports the kubernetes client.

Objects cross this line as plain JSON documents (what the API server sends), never as the client's
strict models, so a DaemonSet with fields the client does not know still reads and writes whole.
Writes use server-side apply under the field manager ``eksaddon``. Every client exception becomes
an :mod:`eksaddon.errors` type naming the verb and resource, so RBAC gaps are obvious.
"""

from __future__ import annotations

import json
import os
import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import kubernetes.client
import kubernetes.config
import urllib3.exceptions
from kubernetes.client import exceptions as kube_errors

from eksaddon.errors import (
    ApiError,
    EnvironmentProblemError,
    KubernetesForbiddenError,
    KubernetesNotFoundError,
    KubernetesServerError,
    KubernetesUnauthorizedError,
    KubernetesUnreachableError,
    UnexpectedAnswerError,
)
from eksaddon.gateways.answers import Answer, shown
from eksaddon.gateways.kube_records import budget, node_facts, pod_facts
from eksaddon.gateways.protocols import DisruptionBudget, NodeFacts, PodFacts
from eksaddon.gateways.timeouts import request_timeouts
from eksaddon.textsafety import register_secret

FIELD_MANAGER = "eksaddon"
# Like botocore's standard mode for EKS: a few attempts with jittered exponential backoff ride out
# a blip (a reset connection, an API server restarting, a 503) without hiding an outage. Longer
# outages are the callers' business: the rollout check keeps polling until the step's deadline.
ATTEMPTS = 4
FIRST_BACKOFF = 0.5


# policy/v1 serves PodDisruptionBudgets from Kubernetes 1.21; older API servers only v1beta1.
_PDB_V1BETA1 = "/apis/policy/v1beta1/namespaces/{namespace}/poddisruptionbudgets"


class KubeGateway:
    """The cluster's API server, through the kubernetes client: implements
    :class:`eksaddon.gateways.protocols.KubernetesGateway`."""

    def __init__(
        self, *, kubeconfig: str | None = None, context: str | None = None, in_cluster: bool = False
    ) -> None:
        # Inside a pod with no kubeconfig at hand, use the pod's service account (in-cluster).
        default = os.environ.get("KUBECONFIG") or os.path.expanduser("~/.kube/config")
        in_cluster = in_cluster or (
            kubeconfig is None
            and context is None
            and "KUBERNETES_SERVICE_HOST" in os.environ
            and not os.path.exists(default.split(os.pathsep)[0])
        )
        try:
            configuration = kubernetes.client.Configuration()
            if in_cluster:
                kubernetes.config.load_incluster_config(client_configuration=configuration)
            else:
                kubernetes.config.load_kube_config(
                    config_file=kubeconfig,
                    context=context,
                    client_configuration=configuration,
                    persist_config=False,
                )
            # Retries are ours (jittered backoff, typed errors, every verb): urllib3's own would
            # retry a reset connection three times at once, and then hide how often it did.
            configuration.retries = False
            _register_credentials(configuration)
            client = kubernetes.client.ApiClient(configuration)
        except (kubernetes.config.ConfigException, OSError, ValueError) as error:
            where = "in-cluster service account" if in_cluster else "Kubernetes configuration"
            raise EnvironmentProblemError(
                f"cannot load the {where}: {_first_line(error)}",
                hint="pass --kubeconfig and --context, or run `aws eks update-kubeconfig`",
            ) from error
        self._client = client
        timeouts = request_timeouts()
        self._timeout = (timeouts.connect, timeouts.read)
        self.attempts = ATTEMPTS
        self.sleep: Callable[[float], None] = time.sleep
        self.host: str = str(client.configuration.host)
        self._core = kubernetes.client.CoreV1Api(client)
        self._apps = kubernetes.client.AppsV1Api(client)
        self._rbac = kubernetes.client.RbacAuthorizationV1Api(client)
        self._extensions = kubernetes.client.ApiextensionsV1Api(client)
        self._policy = kubernetes.client.PolicyV1Api(client)

    def read_daemonset(self, namespace: str, name: str) -> dict[str, Any] | None:
        try:
            return self._json(
                "get",
                f"daemonsets {namespace}/{name}",
                lambda: self._apps.read_namespaced_daemon_set(
                    name, namespace, _preload_content=False, _request_timeout=self._timeout
                ),
            )
        except KubernetesNotFoundError:
            return None

    def daemonsets(self, namespace: str) -> list[dict[str, Any]]:
        document = self._json(
            "list",
            f"daemonsets in {namespace}",
            lambda: self._apps.list_namespaced_daemon_set(
                namespace, _preload_content=False, _request_timeout=self._timeout
            ),
        )
        return _items(document, f"daemonsets in {namespace}")

    def all_daemonsets(self) -> list[dict[str, Any]]:
        """Every DaemonSet in the cluster (another CNI may live in its own namespace)."""
        document = self._json(
            "list",
            "daemonsets in all namespaces",
            lambda: self._apps.list_daemon_set_for_all_namespaces(
                _preload_content=False, _request_timeout=self._timeout
            ),
        )
        return _items(document, "daemonsets")

    def read_deployment(self, namespace: str, name: str) -> dict[str, Any] | None:
        try:
            return self._json(
                "get",
                f"deployments {namespace}/{name}",
                lambda: self._apps.read_namespaced_deployment(
                    name, namespace, _preload_content=False, _request_timeout=self._timeout
                ),
            )
        except KubernetesNotFoundError:
            return None

    def read_config_map(self, namespace: str, name: str) -> dict[str, Any] | None:
        try:
            return self._json(
                "get",
                f"configmaps {namespace}/{name}",
                lambda: self._core.read_namespaced_config_map(
                    name, namespace, _preload_content=False, _request_timeout=self._timeout
                ),
            )
        except KubernetesNotFoundError:
            return None

    def disruption_budgets(self, namespace: str) -> list[DisruptionBudget]:
        what = f"poddisruptionbudgets in {namespace}"
        try:
            document = self._json(
                "list",
                what,
                lambda: self._policy.list_namespaced_pod_disruption_budget(
                    namespace, _preload_content=False, _request_timeout=self._timeout
                ),
            )
        except KubernetesNotFoundError:
            # A list is never "not found" where the resource is served: this API server
            # predates policy/v1 (Kubernetes 1.20 and older), so ask v1beta1, the same resource.
            document = self._json("list", what, lambda: self._get(_PDB_V1BETA1, namespace))
        return [budget(item, namespace) for item in _answer(document, what).children("items")]

    def nodes(self) -> list[NodeFacts]:
        document = self._json(
            "list",
            "nodes",
            lambda: self._core.list_node(_preload_content=False, _request_timeout=self._timeout),
        )
        return [node_facts(item) for item in _answer(document, "nodes").children("items")]

    def pods(self, namespace: str, selector: str) -> list[PodFacts]:
        document = self._json(
            "list",
            f"pods in {namespace} ({selector})",
            lambda: self._core.list_namespaced_pod(
                namespace,
                label_selector=selector,
                _preload_content=False,
                _request_timeout=self._timeout,
            ),
        )
        return [pod_facts(item) for item in _answer(document, "pods").children("items")]

    def apply_daemonset(self, document: dict[str, Any], *, force: bool = False) -> dict[str, Any]:
        """Server-side apply of a DaemonSet as field manager ``eksaddon``."""
        metadata = document["metadata"]
        return self._json(
            "patch",
            f"daemonsets {metadata['namespace']}/{metadata['name']}",
            lambda: self._apps.patch_namespaced_daemon_set(
                metadata["name"],
                metadata["namespace"],
                document,
                field_manager=FIELD_MANAGER,
                force=force,
                _content_type="application/apply-patch+yaml",
                _preload_content=False,
                _request_timeout=self._timeout,
            ),
        )

    def apply(self, document: dict[str, Any], *, force: bool = True) -> dict[str, Any]:
        """Server-side apply of one manifest object as field manager ``eksaddon``."""
        name, namespace, api = self._route(document)
        options = {
            "field_manager": FIELD_MANAGER,
            "force": force,
            "_preload_content": False,
            "_request_timeout": self._timeout,
            "_content_type": "application/apply-patch+yaml",
        }
        where = f"{document['kind']} {namespace + '/' if namespace else ''}{name}"
        patch = getattr(api[0], f"patch_{api[1]}")
        try:
            if namespace:
                return self._json(
                    "patch", where, lambda: patch(name, namespace, document, **options)
                )
            return self._json("patch", where, lambda: patch(name, document, **options))
        except KubernetesForbiddenError as error:
            # The API server authorizes an apply that would create the object as `create` too,
            # and its refusal does not say which verb was missing.
            raise KubernetesForbiddenError(
                error.message,
                hint="grant the 'patch' and 'create' verbs on that resource (a server-side "
                "apply creates an absent object; see docs/iam.md)",
            ) from error

    def read(self, document: dict[str, Any]) -> dict[str, Any] | None:
        """The live object matching a manifest object, or None."""
        name, namespace, api = self._route(document)
        where = f"{document['kind']} {namespace + '/' if namespace else ''}{name}"
        read = getattr(api[0], f"read_{api[1]}")
        try:
            if namespace:
                return self._json(
                    "get",
                    where,
                    lambda: read(
                        name, namespace, _preload_content=False, _request_timeout=self._timeout
                    ),
                )
            return self._json(
                "get",
                where,
                lambda: read(name, _preload_content=False, _request_timeout=self._timeout),
            )
        except KubernetesNotFoundError:
            return None

    def _route(self, document: dict[str, Any]) -> tuple[str, str | None, tuple[Any, str]]:
        key = (document.get("apiVersion"), document.get("kind"))
        routes = {
            ("v1", "ServiceAccount"): (self._core, "namespaced_service_account"),
            ("v1", "ConfigMap"): (self._core, "namespaced_config_map"),
            ("apps/v1", "DaemonSet"): (self._apps, "namespaced_daemon_set"),
            ("rbac.authorization.k8s.io/v1", "ClusterRole"): (self._rbac, "cluster_role"),
            ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"): (
                self._rbac,
                "cluster_role_binding",
            ),
            ("apiextensions.k8s.io/v1", "CustomResourceDefinition"): (
                self._extensions,
                "custom_resource_definition",
            ),
        }
        if key not in routes:
            raise EnvironmentProblemError(
                f"eksaddon cannot apply {key[0]} {key[1]} (not served by current Kubernetes)",
                hint="upgrade through a release whose manifest uses served API versions",
            )
        metadata = document.get("metadata", {})
        return metadata["name"], metadata.get("namespace"), routes[key]

    def _get(self, path: str, namespace: str) -> Any:
        """A GET of an API path the client has no method for (an API version it dropped)."""
        request = self._client.param_serialize(
            method="GET",
            resource_path=path,
            path_params={"namespace": namespace},
            header_params={"Accept": "application/json"},
            auth_settings=["BearerToken"],
        )
        response = self._client.call_api(*request, _request_timeout=self._timeout)
        if not 200 <= response.status <= 299:
            response.read()
            raise kube_errors.ApiException.from_response(http_resp=response, body=None, data=None)
        return response.response

    def _json(self, verb: str, resource: str, call: Callable[[], Any]) -> dict[str, Any]:
        """One request, retried on temporary failures (every verb used is idempotent: get,
        list and server-side apply)."""
        for attempt in range(1, self.attempts + 1):
            try:
                with _translated(verb, resource):
                    response = call()
                    data = response.data if hasattr(response, "data") else response.read()
                break
            except ApiError as error:
                if not error.temporary or attempt == self.attempts:
                    raise
                # Full jitter: many clients retrying after an API server restart must not
                # come back in step.
                self.sleep(random.uniform(0, FIRST_BACKOFF * 2 ** (attempt - 1)))
        try:
            document = json.loads(data)
        except ValueError:
            raise ApiError(f"the API server's answer to {verb} {resource} is not JSON") from None
        if not isinstance(document, dict):
            raise UnexpectedAnswerError(
                "Kubernetes", f"the answer to {verb} {resource}", shown(document)
            )
        return document


def _answer(document: object, path: str) -> Answer:
    return Answer(document, source="Kubernetes", path=path)


def _items(document: dict[str, Any], what: str) -> list[dict[str, Any]]:
    """A list's items, each an object (a null or a text among them is a misfit)."""
    return [dict(item.raw) for item in _answer(document, what).children("items")]


def _register_credentials(configuration: Any) -> None:
    """Remember the kubeconfig's tokens, password and client key so that no message eksaddon
    passes on can show them (an API server may echo a header back in an error)."""
    for value in (getattr(configuration, "api_key", None) or {}).values():
        text = str(value)
        register_secret(text)
        register_secret(text.removeprefix("Bearer ").strip())
    register_secret(getattr(configuration, "password", None))
    key_file = getattr(configuration, "key_file", None)
    if key_file:
        try:
            with open(key_file, encoding="utf-8") as handle:
                key = handle.read()
        except (OSError, UnicodeDecodeError):
            return
        register_secret(key.strip())
        for line in key.splitlines():  # a key shown in part is still shown
            if not line.startswith("-----"):
                register_secret(line.strip())


@contextmanager
def _translated(verb: str, resource: str) -> Iterator[None]:
    try:
        yield
    except kube_errors.ApiException as error:
        raise _api_error(error, verb, resource) from error
    except (urllib3.exceptions.HTTPError, OSError) as error:
        raise KubernetesUnreachableError(
            f"cannot reach the Kubernetes API server to {verb} {resource}: {_first_line(error)}",
            hint="check the network and --kubeconfig / --context",
        ) from error


def _api_error(error: kube_errors.ApiException, verb: str, resource: str) -> ApiError:
    status = int(getattr(error, "status", 0) or 0)
    reason = _message(error)
    if status == 403:
        return KubernetesForbiddenError(
            f"Kubernetes RBAC forbids {verb} on {resource}: {reason}",
            hint=f"grant the '{verb}' verb on that resource (see docs/iam.md)",
        )
    if status == 401:
        return KubernetesUnauthorizedError(
            f"the Kubernetes API server rejected the credentials for {verb} {resource}",
            hint="refresh the kubeconfig token (aws eks update-kubeconfig)",
        )
    if status == 404:
        return KubernetesNotFoundError(f"{resource} not found: {reason}")
    if status == 429 or status >= 500:
        return KubernetesServerError(
            f"the Kubernetes API server kept failing {verb} {resource} ({status}): {reason}",
            hint="check the cluster's control plane, then rerun",
        )
    return ApiError(f"Kubernetes {verb} {resource} failed ({status}): {reason}")


def _message(error: kube_errors.ApiException) -> str:
    body = getattr(error, "body", None)
    try:
        message = json.loads(body).get("message") if body else None
    except (ValueError, AttributeError):
        message = None
    return str(message or getattr(error, "reason", "") or "no details")


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
