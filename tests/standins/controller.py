"""A stand-in DaemonSet controller for the kube-apiserver stand-in (which runs no controllers).

A background thread watches one DaemonSet (aws-node unless told another): whenever its generation moves past the
observed one, it replaces the pods on every node that is not marked stuck with pods running the
template's containers, and writes the status a real controller would.

``tick()`` reconciles at once, in the caller's thread: a test on a fast-forwarded clock
(tests/virtual_clock.py) calls it at every sleep of the code under test, so that the controller
has acted before the code under test looks again, however loaded the machine is.
"""

from __future__ import annotations

import json
import threading
from typing import Any

import kubernetes.client as k8s

NAMESPACE = "kube-system"
NAME = "aws-node"


class DaemonSetController:
    def __init__(
        self,
        api: k8s.ApiClient,
        nodes: tuple[str, ...],
        *,
        interval: float = 0.05,
        namespace: str = NAMESPACE,
        name: str = NAME,
    ) -> None:
        self.api = api
        self.namespace = namespace
        self.name = name
        self.interval = interval  # seconds between the thread's looks at the DaemonSet
        self.nodes = nodes
        self.stuck: set[str] = set()
        # Set after un-sticking a node: roll it although the generation was already observed.
        self.reconcile_all = False
        self._stop = threading.Event()
        self._reconciling = threading.Lock()  # the thread and tick() take turns
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> DaemonSetController:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.tick()

    def tick(self) -> None:
        """Reconcile now, as the controller's loop does (a missing DaemonSet is no error)."""
        if self._stop.is_set():
            return
        try:
            self.reconcile()
        except k8s.exceptions.ApiException:
            pass  # the DaemonSet may not exist yet

    def reconcile(self) -> None:
        with self._reconciling:
            self._reconcile()

    def _reconcile(self) -> None:
        apps = k8s.AppsV1Api(self.api)
        response: Any = apps.read_namespaced_daemon_set(
            self.name, self.namespace, _preload_content=False
        )
        daemonset: dict[str, Any] = json.loads(response.data)
        generation = daemonset["metadata"].get("generation", 0)
        observed = (daemonset.get("status") or {}).get("observedGeneration") == generation
        if observed and not self.reconcile_all:
            return
        self.reconcile_all = False
        template = daemonset["spec"]["template"]["spec"]
        labels = dict(daemonset["spec"]["selector"]["matchLabels"])
        core = k8s.CoreV1Api(self.api)
        updated = 0
        for node in self.nodes:
            if node in self.stuck:
                continue
            name = f"{self.name}-{node}"
            try:
                core.delete_namespaced_pod(name, self.namespace, grace_period_seconds=0)
            except k8s.exceptions.ApiException:
                pass
            pod = {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": name, "labels": labels},
                "spec": {
                    "nodeName": node,
                    "initContainers": [
                        {"name": c["name"], "image": c["image"]}
                        for c in template.get("initContainers", [])
                    ],
                    "containers": [
                        {"name": c["name"], "image": c["image"]} for c in template["containers"]
                    ],
                },
            }
            core.create_namespaced_pod(self.namespace, pod)  # type: ignore[arg-type]
            updated += 1
        status = {
            "observedGeneration": generation,
            "desiredNumberScheduled": len(self.nodes),
            "currentNumberScheduled": len(self.nodes),
            "updatedNumberScheduled": updated,
            "numberAvailable": len(self.nodes),
            "numberReady": len(self.nodes),
            "numberMisscheduled": 0,
        }
        apps.patch_namespaced_daemon_set_status(
            self.name,
            self.namespace,
            {"status": status},
            _content_type="application/merge-patch+json",
        )
