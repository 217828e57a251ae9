"""The node-side check after every upgrade step: an add-on's DaemonSet rolled out on every node.

EKS reports a step ACTIVE when its own work is done; the pods on the nodes may still be rolling
(or stuck). This hook waits, within the step's deadline, for the DaemonSet's rollout to finish on
every non-Fargate node, and stops the run naming the nodes that are behind.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

from eksaddon.addons import default_profile
from eksaddon.addons.base import (
    AddonProfile,
    Objects,
    StepView,
    drifted,
    image_tag,
    main_workload,
    tag_shows,
)
from eksaddon.engine.events import RolloutProgressed
from eksaddon.engine.waiting import PollSchedule
from eksaddon.errors import ApiError, EnvironmentProblemError, InputError, UpgradeStoppedError
from eksaddon.gateways.protocols import ClusterInfo, KubernetesReader
from eksaddon.matrix.model import Matrix, Workload, WorkloadKind
from eksaddon.nodeside.detect import Customization
from eksaddon.nodeside.rollout import Rollout, assess, describe_stall
from eksaddon.planner import Step


class RolloutCheck:
    """The DaemonSet hook (:class:`~eksaddon.addons.base.NodeSideHook`) for a profile's workload.

    ``profile`` says which DaemonSet (its first workload), which settings count and whether the
    cluster may be changed at all; without one, the default add-on's profile is used.
    """

    def __init__(
        self,
        kube: KubernetesReader,
        profile: AddonProfile | None = None,
        *,
        workload: Workload | None = None,
    ) -> None:
        """``workload``: another DaemonSet of the profile than its main one (EBS CSI's node
        DaemonSet), checked for its rollout only; its settings are the main workload's hook's."""
        self.kube = kube
        self.profile = profile if profile is not None else default_profile()
        workload = workload if workload is not None else main_workload(self.profile)
        if workload is None or workload.kind is not WorkloadKind.DAEMONSET:
            raise InputError(
                f"eksaddon knows no DaemonSet of {self.profile.name} to check on the nodes"
            )
        self.workload = workload
        self.namespace = workload.namespace
        self.name = workload.name
        self.matrix: Matrix | None = None
        self.expected: tuple[Customization, ...] = ()

    @property
    def notice(self) -> str | None:
        return self.profile.node_side_note

    @property
    def label(self) -> str:
        return f"DaemonSet {self.namespace}/{self.name}"

    def check_target(self, cluster: ClusterInfo) -> None:
        """Before any change: the right cluster, and the add-on actually runs on its nodes."""
        ensure_same_cluster(self.kube.host, cluster)
        daemonset = self.kube.read_daemonset(self.namespace, self.name)
        refusal = self.profile.refuse_change(
            daemonset, self.kube.all_daemonsets(), cluster=cluster.name
        )
        if refusal is None and daemonset is None:
            refusal = f"the {self.name} DaemonSet is absent on cluster {cluster.name}"
        if refusal is not None:
            raise InputError(
                f"{refusal}: eksaddon changes nothing",
                hint=f"{self.profile.name} is not what this cluster runs; nothing to upgrade",
            )

    def objects(self, matrix: Matrix) -> Objects:
        """The objects the profile's settings are read from (kube-proxy: its ConfigMap too)."""
        from eksaddon.engine.profile_objects import read_objects

        return read_objects(self.kube, self.profile.settings.sources(matrix))

    def customizations(self, matrix: Matrix) -> tuple[Customization, ...]:
        """The settings running on the nodes now (differences from the version's defaults)."""
        return tuple(self.profile.settings.custom(self.objects(matrix), matrix))

    def live_values(self, matrix: Matrix) -> Mapping[tuple[str, str], str | None]:
        """Every setting the nodes run now, defaults included."""
        return self.profile.settings.running(self.objects(matrix), matrix)

    def expect(self, matrix: Matrix, settings: Iterable[Customization]) -> None:
        """After each rollout, these settings must run on the nodes, or the run stops."""
        self.matrix = matrix
        self.expected = tuple(settings)

    def __call__(self, ctx: StepView, step: Step) -> None:
        self.after_step(ctx, step)

    def after_step(self, ctx: StepView, step: Step) -> None:
        last: RolloutProgressed | None = None
        rollout: Rollout | None = None
        failures = 0
        last_error: ApiError | None = None
        schedule = PollSchedule(ctx.clock, ctx.poll_interval)
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
            if schedule.next(failures) > ctx.deadline:
                stall = describe_stall(rollout) if rollout is not None else "no answer"
                if last_error is not None:
                    stall = f"{stall} (last error: {last_error.one_line()})"
                raise UpgradeStoppedError(
                    f"the {self.name} rollout of {step.target} did not finish on cluster "
                    f"{ctx.cluster} within the step's timeout (step {ctx.number} of "
                    f"{ctx.total}): {stall}",
                    hint=f"check those nodes (kubectl describe pod -n {self.namespace} -l "
                    f"{self._selector(None)}), then rerun to resume",
                )
            schedule.wait()

    def _check_settings(self, ctx: StepView, step: Step) -> None:
        if not self.expected or self.matrix is None:
            return
        lost = drifted(self.expected, self.live_values(self.matrix))
        if lost:
            raise UpgradeStoppedError(
                f"after step {ctx.number} of {ctx.total} ({step.target}) on cluster {ctx.cluster} "
                f"the nodes do not run the carried settings: {'; '.join(lost)}",
                hint="restore them (the backup has the configuration values), then rerun",
            )

    def _assess(self, ctx: StepView, step: Step) -> Rollout:
        daemonset = self.kube.read_daemonset(self.namespace, self.name)
        if daemonset is None:
            raise UpgradeStoppedError(
                f"DaemonSet {self.namespace}/{self.name} is missing on cluster {ctx.cluster} "
                f"after step {ctx.number}"
            )
        tag = image_tag(daemonset, self.workload.version_container)
        if tag_shows(self.workload, tag, step.target) is False:
            # EKS has not rewritten the DaemonSet yet: nothing on the nodes can be current.
            return assess({**daemonset, "status": {}}, [], self.kube.nodes())
        pods = self.kube.pods(self.namespace, self._selector(daemonset))
        return assess(daemonset, pods, self.kube.nodes())

    def _selector(self, daemonset: Mapping[str, Any] | None) -> str:
        """The DaemonSet's own pod selector; ``k8s-app=<name>`` when it shows none."""
        spec = (daemonset or {}).get("spec")
        selector = spec.get("selector") if isinstance(spec, Mapping) else None
        labels = selector.get("matchLabels") if isinstance(selector, Mapping) else None
        if (
            isinstance(labels, Mapping)
            and labels
            and all(isinstance(k, str) and isinstance(v, str) for k, v in labels.items())
        ):
            return ",".join(f"{k}={v}" for k, v in sorted(labels.items()))
        return f"k8s-app={self.name}"


def ensure_same_cluster(kube_host: str, cluster: ClusterInfo) -> None:
    """Refuse a kubeconfig that points at another cluster than ``cluster``.

    The current context is easy to leave on staging while working on production: reading the
    wrong cluster's DaemonSet would "verify" the wrong rollout.
    """
    if cluster.endpoint is None:
        # Nothing to match the kubeconfig against: reading (or writing) through it would act on
        # whichever cluster it names, unchecked. EKS names the endpoint of every cluster that
        # runs; one that does not is refused here, before anything is read or changed.
        raise EnvironmentProblemError(
            f"EKS named no API server endpoint for cluster {cluster.name}: the kubeconfig "
            f"context ({kube_host}) cannot be checked to be that cluster's",
            hint=f"check the cluster (`aws eks describe-cluster --name {cluster.name}`), or "
            "skip the node side (--skip-rollout-check, --skip-node-side)",
        )
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
