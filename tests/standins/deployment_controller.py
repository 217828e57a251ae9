"""A stand-in Deployment controller (and the disruption controller's share for PodDisruptionBudgets)
for the kube-apiserver stand-in, which runs no controllers (tests/standins/kube.py).

The kube-apiserver of the stand-in is 1.20, which serves PodDisruptionBudgets as policy/v1beta1
only; the kubernetes client no longer has that API, so budgets are read and written as raw
requests (``raw``). ``tick()`` acts at once in the caller's thread, as DaemonSetController's does.
"""

from __future__ import annotations

import hashlib
import json
import math
import secrets
import threading
import time
from typing import Any

import kubernetes.client as k8s

PDB_PATH = "/apis/policy/v1beta1/namespaces/{namespace}/poddisruptionbudgets"


class DeploymentController:
    """A stand-in Deployment controller, with the disruption controller's share for PDBs.

    Each ``tick()`` takes one step of a rolling update, as the real controller does over time:
    it makes the template's ReplicaSet (``<name>-<hash>``, pods labelled ``pod-template-hash``),
    then either starts one new pod (while ``maxSurge`` allows) or removes one old pod (while
    ``maxUnavailable`` allows), and writes the Deployment's status as the real controller does
    (``observedGeneration`` at its first look, ``replicas``, ``updatedReplicas``,
    ``readyReplicas``, ``availableReplicas``, ``unavailableReplicas`` and the ``Progressing`` /
    ``Available`` conditions). Then it writes every PodDisruptionBudget's status in the namespace
    from the pods it selects (``currentHealthy``, ``desiredHealthy``, ``disruptionsAllowed``,
    ``expectedPods``, ``observedGeneration``), as the disruption controller does.

    ``failing``: new pods start but never become Ready (their container waits in ``reason``);
    ``give_up()`` then writes ``ProgressDeadlineExceeded``, as the controller does after
    ``progressDeadlineSeconds``. Like the real controller it ignores the budgets while rolling
    (only evictions honour them): a ``maxSurge: 0`` strategy can take the pods below a budget.
    """

    def __init__(
        self, api: k8s.ApiClient, namespace: str, name: str, *, interval: float = 0.05
    ) -> None:
        self.api = api
        self.namespace = namespace
        self.name = name
        self.interval = interval
        self.failing: str | None = None  # a waiting reason (ImagePullBackOff, CrashLoopBackOff)
        self.gave_up = False
        self._stop = threading.Event()
        self._reconciling = threading.Lock()
        self._thread = threading.Thread(target=self._run, daemon=True)
        # What the cluster looked like after a step that changed nothing (see _unchanged).
        self._settled: tuple[object, ...] | None = None

    def __enter__(self) -> DeploymentController:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.tick()

    def tick(self) -> None:
        if self._stop.is_set():
            return
        try:
            with self._reconciling:
                self._step()
        except k8s.exceptions.ApiException:
            pass  # the Deployment may not exist yet

    def settle(self, limit: int = 50) -> None:
        """Tick until a tick changes nothing (the rollout finished or cannot go on)."""
        for _ in range(limit):
            with self._reconciling:
                if not self._step():
                    return

    def give_up(self) -> None:
        self.gave_up = True
        self.tick()

    # -- one step ----------------------------------------------------------------------------

    def _step(self) -> bool:
        apps, core = k8s.AppsV1Api(self.api), k8s.CoreV1Api(self.api)
        response: Any = apps.read_namespaced_deployment(
            self.name, self.namespace, _preload_content=False
        )
        deployment: dict[str, Any] = json.loads(response.data)
        if self._unchanged(deployment, core):
            return False
        self._settled = None
        spec, template = deployment["spec"], deployment["spec"]["template"]
        desired = int(spec.get("replicas", 1))
        template_hash = hashlib.sha256(json.dumps(template, sort_keys=True).encode()).hexdigest()[
            :10
        ]
        replica_set = f"{self.name}-{template_hash}"
        self._ensure_replica_set(apps, deployment, replica_set, template_hash, desired)
        selector = _label_selector(spec["selector"]["matchLabels"])
        pods = self._pods(core, selector)
        new = [p for p in pods if p["metadata"]["labels"].get("pod-template-hash") == template_hash]
        old = [p for p in pods if p not in new]
        ready = [p for p in pods if _ready(p)]
        surge, unavailable = _rolling_limits(spec, desired)
        changed = True
        if len(new) < desired and len(pods) < desired + surge:
            self._start_pod(core, template, replica_set, template_hash, len(new))
        elif old and len(ready) - int(_ready(old[0])) >= desired - unavailable:
            _delete_pod(core, self.namespace, old[0]["metadata"]["name"])
        elif len(new) > desired:
            _delete_pod(core, self.namespace, new[-1]["metadata"]["name"])
        else:
            changed = False
        written, pods = self._write_status(apps, core, deployment, selector, template_hash, desired)
        budgets = self._write_budgets(core)
        # Settled only on the spec this step acted on: a template changed after the read (EKS
        # updating the add-on meanwhile) is in the Deployment the status patch returns, and
        # taken as settled its rollout would never start.
        if not changed and _generation(written) == _generation(deployment):
            self._settled = self._look(written, pods, budgets)
        return changed

    def _look(
        self, deployment: dict[str, Any], pods: list[dict[str, Any]], budgets: list[dict[str, Any]]
    ) -> tuple[object, ...]:
        """What a step's outcome depends on: the objects' resource versions and the flags."""

        def versions(items: list[dict[str, Any]]) -> tuple[tuple[str, str], ...]:
            return tuple(
                sorted((i["metadata"]["name"], i["metadata"]["resourceVersion"]) for i in items)
            )

        return (
            deployment["metadata"]["resourceVersion"],
            versions(pods),
            versions(budgets),
            self.failing,
            self.gave_up,
        )

    def _unchanged(self, deployment: dict[str, Any], core: Any) -> bool:
        """Whether nothing moved since a step that changed nothing wrote its status: then a
        step would change nothing again and write the same status (the real controller writes
        none then either). A settled controller ticks at every sleep of the code under test
        (the fast clock): three reads instead of a step's five reads and two or more writes.
        ``deployment``: as just read, for the step that follows when something moved."""
        if self._settled is None:
            return False
        if deployment["metadata"]["resourceVersion"] != self._settled[0]:
            return False
        selector = _label_selector(deployment["spec"]["selector"]["matchLabels"])
        budgets = raw(self.api, "GET", PDB_PATH.format(namespace=self.namespace))["items"]
        return self._look(deployment, self._pods(core, selector), budgets) == self._settled

    def _ensure_replica_set(
        self, apps: Any, deployment: dict[str, Any], name: str, template_hash: str, replicas: int
    ) -> None:
        try:
            apps.read_namespaced_replica_set(name, self.namespace, _preload_content=False)
            return
        except k8s.exceptions.ApiException as error:
            if error.status != 404:
                raise
        template = json.loads(json.dumps(deployment["spec"]["template"]))
        template.setdefault("metadata", {}).setdefault("labels", {})
        template["metadata"]["labels"]["pod-template-hash"] = template_hash
        selector = dict(deployment["spec"]["selector"]["matchLabels"])
        selector["pod-template-hash"] = template_hash
        body = {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": {
                "name": name,
                "labels": template["metadata"]["labels"],
                "ownerReferences": [_owner("Deployment", deployment)],
            },
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": selector},
                "template": template,
            },
        }
        apps.create_namespaced_replica_set(self.namespace, body)

    def _start_pod(
        self, core: Any, template: dict[str, Any], replica_set: str, template_hash: str, index: int
    ) -> None:
        labels = {**template["metadata"]["labels"], "pod-template-hash": template_hash}
        pod_spec = template["spec"]
        containers = [{"name": c["name"], "image": c["image"]} for c in pod_spec["containers"]]
        init = [
            {"name": c["name"], "image": c["image"]} for c in pod_spec.get("initContainers", [])
        ]
        name = f"{replica_set}-{secrets.token_hex(3)}"
        body = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name, "labels": labels},
            "spec": {
                "nodeName": f"node-{index % 3}",
                "initContainers": init,
                "containers": containers,
            },
        }
        core.create_namespaced_pod(self.namespace, body)
        ready = self.failing is None
        state: dict[str, Any] = (
            {"running": {"startedAt": _now()}}
            if ready
            else {"waiting": {"reason": self.failing, "message": "stand-in: does not start"}}
        )
        status = {
            "phase": "Running" if ready else "Pending",
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
            "containerStatuses": [
                {
                    "name": c["name"],
                    "image": c["image"],
                    "imageID": "",
                    "ready": ready,
                    "restartCount": 0,
                    "state": state,
                }
                for c in containers
            ],
        }
        core.patch_namespaced_pod_status(
            name,
            self.namespace,
            {"status": status},
            _content_type="application/merge-patch+json",
        )

    def _write_status(
        self,
        apps: Any,
        core: Any,
        deployment: dict[str, Any],
        selector: str,
        template_hash: str,
        desired: int,
    ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """Write the Deployment's status; (the Deployment as written, the pods it counts)."""
        pods = self._pods(core, selector)
        new = [p for p in pods if p["metadata"]["labels"].get("pod-template-hash") == template_hash]
        ready = sum(1 for p in pods if _ready(p))
        complete = len(new) == desired == len(pods) == ready
        if self.gave_up and not complete:
            progressing = ("False", "ProgressDeadlineExceeded", "has timed out progressing.")
        elif complete:
            progressing = ("True", "NewReplicaSetAvailable", "has successfully progressed.")
        else:
            progressing = ("True", "ReplicaSetUpdated", "is progressing.")
        minimum = desired - _rolling_limits(deployment["spec"], desired)[1]
        available = "True" if ready >= minimum else "False"
        status = {
            "observedGeneration": deployment["metadata"]["generation"],
            "replicas": len(pods),
            "updatedReplicas": len(new),
            "readyReplicas": ready,
            "availableReplicas": ready,
            "unavailableReplicas": max(desired - ready, 0),
            "conditions": [
                _condition("Available", available, "MinimumReplicasAvailable", "replicas"),
                _condition(
                    "Progressing",
                    progressing[0],
                    progressing[1],
                    f'ReplicaSet "{self.name}-{template_hash}" {progressing[2]}',
                ),
            ],
        }
        response: Any = apps.patch_namespaced_deployment_status(
            self.name,
            self.namespace,
            {"status": status},
            _content_type="application/merge-patch+json",
            _preload_content=False,
        )
        written: dict[str, Any] = json.loads(response.data)
        return written, pods

    def _write_budgets(self, core: Any) -> list[dict[str, Any]]:
        """Write every budget's status; the budgets as written."""
        path = PDB_PATH.format(namespace=self.namespace)
        written = []
        for budget in raw(self.api, "GET", path)["items"]:
            labels = (budget["spec"].get("selector") or {}).get("matchLabels") or {}
            selector = _label_selector(labels)
            pods = json.loads(
                core.list_namespaced_pod(
                    self.namespace, label_selector=selector, _preload_content=False
                ).data
            )["items"]
            expected = self._scale()
            healthy = sum(1 for p in pods if _ready(p))
            wanted = _desired_healthy(budget["spec"], expected)
            status = {
                "observedGeneration": budget["metadata"]["generation"],
                "currentHealthy": healthy,
                "desiredHealthy": wanted,
                "disruptionsAllowed": max(healthy - wanted, 0),
                "expectedPods": expected,
                "disruptedPods": {},
            }
            name = budget["metadata"]["name"]
            written.append(
                raw(self.api, "PUT", f"{path}/{name}/status", {**budget, "status": status})
            )
        return written

    def _pods(self, core: Any, selector: str) -> list[dict[str, Any]]:
        """The pods matching ``selector`` that are not going away."""
        response: Any = core.list_namespaced_pod(
            self.namespace, label_selector=selector, _preload_content=False
        )
        items: list[dict[str, Any]] = json.loads(response.data)["items"]
        return [p for p in items if not p["metadata"].get("deletionTimestamp")]

    def _scale(self) -> int:
        response: Any = k8s.AppsV1Api(self.api).read_namespaced_deployment(
            self.name, self.namespace, _preload_content=False
        )
        return int(json.loads(response.data)["spec"].get("replicas", 1))


def _rolling_limits(spec: dict[str, Any], desired: int) -> tuple[int, int]:
    """(maxSurge, maxUnavailable) resolved as the controller does: surge rounds up,
    unavailable down, and both 0 means one unavailable."""
    rolling = (spec.get("strategy") or {}).get("rollingUpdate") or {}

    def resolve(value: Any, round_up: bool) -> int:
        if isinstance(value, str) and value.endswith("%"):
            share = desired * int(value[:-1]) / 100
            return math.ceil(share) if round_up else math.floor(share)
        return int(value)

    surge = resolve(rolling.get("maxSurge", "25%"), True)
    unavailable = resolve(rolling.get("maxUnavailable", "25%"), False)
    return surge, unavailable if surge or unavailable else 1


def _desired_healthy(spec: dict[str, Any], expected: int) -> int:
    if "minAvailable" in spec:
        value = spec["minAvailable"]
        if isinstance(value, str) and value.endswith("%"):
            return math.ceil(expected * int(value[:-1]) / 100)
        return int(value)
    value = spec.get("maxUnavailable", 0)
    if isinstance(value, str) and value.endswith("%"):
        return expected - math.ceil(expected * int(value[:-1]) / 100)
    return max(expected - int(value), 0)


def _generation(obj: dict[str, Any]) -> object:
    return obj["metadata"].get("generation")


def _label_selector(labels: dict[str, str]) -> str:
    """``matchLabels`` as a list call's label selector."""
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items()))


def _ready(pod: dict[str, Any]) -> bool:
    conditions = (pod.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def _delete_pod(core: Any, namespace: str, name: str) -> None:
    try:
        core.delete_namespaced_pod(name, namespace, grace_period_seconds=0)
    except k8s.exceptions.ApiException as error:
        if error.status != 404:
            raise


def _owner(kind: str, owner: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": kind,
        "name": owner["metadata"]["name"],
        "uid": owner["metadata"]["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


def _condition(kind: str, status: str, reason: str, message: str) -> dict[str, str]:
    return {
        "type": kind,
        "status": status,
        "reason": reason,
        "message": message,
        "lastUpdateTime": _now(),
        "lastTransitionTime": _now(),
    }


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def raw(api: k8s.ApiClient, method: str, path: str, body: Any = None) -> Any:
    """A request the client has no method for (policy/v1beta1, which it no longer carries)."""
    request = api.param_serialize(
        method=method,
        resource_path=path,
        header_params={"Accept": "application/json", "Content-Type": "application/json"},
        body=body,
        auth_settings=["BearerToken"],
    )
    response: Any = api.call_api(*request)
    data: bytes = response.read()
    if not 200 <= response.status <= 299:
        raise k8s.exceptions.ApiException(status=response.status, reason=data.decode())
    return json.loads(data)
