"""The node-side check after every upgrade step: the aws-node rollout reached every node.

EKS reports a step ACTIVE when its own work is done; the pods on the nodes may still be rolling
(or stuck). This hook waits, within the step's deadline, for the DaemonSet's rollout to finish on
every non-Fargate node, and stops the run naming the nodes that are behind.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from eksaddon.engine.events import RolloutProgressed
from eksaddon.engine.nodeside_status import OTHER_CNIS
from eksaddon.engine.settings import drifted
from eksaddon.engine.waiting import StepContext, backoff
from eksaddon.errors import ApiError, InputError, UpgradeStoppedError
from eksaddon.gateways.protocols import ClusterInfo, KubernetesReader
from eksaddon.matrix.model import Matrix
from eksaddon.nodeside.detect import Customization, detect, live_values
from eksaddon.nodeside.rollout import Rollout, assess, describe_stall
from eksaddon.planner import Step


class RolloutCheck:
    """``after_step`` for :class:`~eksaddon.engine.upgrade.Upgrader`."""

    def __init__(
        self,
        kube: KubernetesReader,
        *,
        namespace: str = "kube-system",
        name: str = "aws-node",
        selector: str = "k8s-app=aws-node",
    ) -> None:
        self.kube = kube
        self.namespace = namespace
        self.name = name
        self.selector = selector
        self.matrix: Matrix | None = None
        self.expected: tuple[Customization, ...] = ()

    def check_target(self, cluster: ClusterInfo) -> None:
        """Before any change: the right cluster, and a VPC CNI that actually runs on its nodes."""
        ensure_same_cluster(self.kube.host, cluster)
        daemonset = self.kube.read_daemonset(self.namespace, self.name)
        others = sorted(
            {
                OTHER_CNIS[n]
                for d in self.kube.all_daemonsets()
                if (n := d.get("metadata", {}).get("name")) in OTHER_CNIS
            }
        )
        scheduled = int(((daemonset or {}).get("status") or {}).get("desiredNumberScheduled", 1))
        if daemonset is None or (scheduled == 0 and others):
            replaced = f"; {', '.join(others)} runs instead" if others else ""
            where = "is absent" if daemonset is None else "runs on no node"
            raise InputError(
                f"the {self.name} DaemonSet {where} on cluster {cluster.name}{replaced}: "
                "eksaddon changes nothing",
                hint="the VPC CNI is not what this cluster's pods use; nothing to upgrade",
            )

    def customizations(self, matrix: Matrix) -> tuple[Customization, ...]:
        """The settings running on the nodes now (differences from the version's defaults)."""
        daemonset = self.kube.read_daemonset(self.namespace, self.name)
        if daemonset is None:
            return ()
        return detect(
            daemonset, matrix, label=f"DaemonSet {self.namespace}/{self.name}"
        ).customizations

    def live_values(self, matrix: Matrix) -> dict[tuple[str, str], str | None]:
        """Every setting the DaemonSet has now, defaults included."""
        daemonset = self.kube.read_daemonset(self.namespace, self.name)
        if daemonset is None or matrix.daemonset is None:
            return {}
        return live_values(
            daemonset, matrix.daemonset, label=f"DaemonSet {self.namespace}/{self.name}"
        )

    def expect(self, matrix: Matrix, settings: Iterable[Customization]) -> None:
        """After each rollout, these settings must run on the nodes, or the run stops."""
        self.matrix = matrix
        self.expected = tuple(settings)

    def __call__(self, ctx: StepContext, step: Step) -> None:
        last: RolloutProgressed | None = None
        rollout: Rollout | None = None
        failures = 0
        last_error: ApiError | None = None
        while True:
            try:
                rollout = self._assess(ctx, step)
            except ApiError as error:
                if not error.temporary:
                    raise
                # The API server is away (restarting, overloaded): keep trying, backing off,
                # until the step's deadline.
                failures, last_error = failures + 1, error
            else:
                failures, last_error = 0, None
                progressed = RolloutProgressed(
                    ctx.number,
                    ctx.total,
                    self.name,
                    len(rollout.nodes) - len(rollout.behind),
                    len(rollout.nodes),
                    rollout.behind,
                )
                if progressed != last:
                    last = progressed
                    ctx.progress(progressed)
                if rollout.done:
                    self._check_settings(ctx, step)
                    return
            wait = backoff(ctx.poll_interval, failures)
            if ctx.clock.now() + wait > ctx.deadline:
                stall = describe_stall(rollout) if rollout is not None else "no answer"
                if last_error is not None:
                    stall = f"{stall} (last error: {last_error.one_line()})"
                raise UpgradeStoppedError(
                    f"the aws-node rollout of {step.target} did not finish on cluster "
                    f"{ctx.cluster} within the step's timeout (step {ctx.number} of "
                    f"{ctx.total}): {stall}",
                    hint="check those nodes (kubectl describe pod -n kube-system -l "
                    "k8s-app=aws-node), then rerun to resume",
                )
            ctx.clock.sleep(wait)

    def _check_settings(self, ctx: StepContext, step: Step) -> None:
        if not self.expected or self.matrix is None:
            return
        lost = drifted(self.expected, self.live_values(self.matrix))
        if lost:
            raise UpgradeStoppedError(
                f"after step {ctx.number} of {ctx.total} ({step.target}) on cluster {ctx.cluster} "
                f"the nodes do not run the carried settings: {'; '.join(lost)}",
                hint="restore them (the backup has the configuration values), then rerun",
            )

    def _assess(self, ctx: StepContext, step: Step) -> Rollout:
        daemonset = self.kube.read_daemonset(self.namespace, self.name)
        if daemonset is None:
            raise UpgradeStoppedError(
                f"DaemonSet {self.namespace}/{self.name} is missing on cluster {ctx.cluster} "
                f"after step {ctx.number}"
            )
        tag = _tag(daemonset)
        if tag is not None and tag != str(step.target):
            # EKS has not rewritten the DaemonSet yet: nothing on the nodes can be current.
            return assess({**daemonset, "status": {}}, [], self.kube.nodes())
        return assess(daemonset, self.kube.pods(self.namespace, self.selector), self.kube.nodes())


def ensure_same_cluster(kube_host: str, cluster: ClusterInfo) -> None:
    """Refuse a kubeconfig that points at another cluster than ``cluster``.

    The current context is easy to leave on staging while working on production: reading the
    wrong cluster's DaemonSet would "verify" the wrong rollout.
    """
    if cluster.endpoint is None:
        return
    if _origin(cluster.endpoint) != _origin(kube_host):
        raise InputError(
            f"the kubeconfig context points at {kube_host}, not at cluster "
            f"{cluster.name}'s API server {cluster.endpoint}",
            hint=f"pass --context for {cluster.name} (aws eks update-kubeconfig --name "
            f"{cluster.name}), or skip the node side (--skip-rollout-check, --skip-node-side)",
        )


def _origin(url: str) -> tuple[str, int]:
    parts = urlsplit(url.strip())
    host = (parts.hostname or "").lower()
    return host, parts.port or (443 if parts.scheme in ("https", "") else 80)


def _tag(daemonset: dict[str, Any]) -> str | None:
    containers = daemonset.get("spec", {}).get("template", {}).get("spec", {}).get("containers", [])
    image = next((c.get("image", "") for c in containers if c.get("name") == "aws-node"), "")
    return image.rsplit(":", 1)[1] if ":" in image.rsplit("/", 1)[-1] else None
