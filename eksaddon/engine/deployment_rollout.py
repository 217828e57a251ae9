"""The node-side check after every upgrade step of an add-on that runs as a Deployment.

EKS reports a step ACTIVE when its own work is done; the Deployment may still be rolling its
replicas to the new ReplicaSet (or be stuck). This hook waits, within the step's deadline, until
every replica is updated and available, the controller has observed the current generation, the
PodDisruptionBudgets of the Deployment are met again, and the carried settings run; it stops the
run naming the pods (and budgets) that are behind. The hook knows the workload only as the
add-on's profile describes it (namespace, name, version container, image-tag rule): no add-on is
named here.

Same interface as :class:`eksaddon.engine.rollout_check.RolloutCheck` (``__call__(ctx, step)``,
``check_target``, ``customizations``, ``expect``) and the profile's
:class:`eksaddon.addons.base.NodeSideHook` (``notice``, ``after_step``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from eksaddon.addons.base import (
    CONFIG_MAP,
    AddonProfile,
    NoSettings,
    ObjectRef,
    Objects,
    Setting,
    SettingsRules,
    StepView,
    drifted,
    image_tag,
    main_workload,
    tag_shows,
)
from eksaddon.engine.events import Notice, RolloutProgressed
from eksaddon.engine.rollout_check import ensure_same_cluster
from eksaddon.engine.waiting import PollSchedule
from eksaddon.errors import ApiError, InputError, UpgradeStoppedError
from eksaddon.gateways.protocols import ClusterInfo, KubernetesReader
from eksaddon.matrix.model import Matrix, Workload, WorkloadKind
from eksaddon.nodeside.deployment import (
    DeploymentRollout,
    assess_deployment,
    budget_findings,
    describe_deployment_stall,
    selector_of,
)
from eksaddon.planner import Step
from eksaddon.versions import ImageTagRule


class DeploymentRolloutCheck:
    """``after_step`` for a Deployment workload; ``settings`` are the profile's rules (None:
    the add-on's settings are not read, and none are checked after a step)."""

    def __init__(
        self,
        kube: KubernetesReader,
        workload: Workload,
        *,
        settings: SettingsRules | None = None,
    ) -> None:
        self.kube = kube
        self.workload = workload
        self.settings = settings
        self.matrix: Matrix | None = None
        self.expected: tuple[Setting, ...] = ()
        self.profile_note: str | None = None  # what the profile says is not checked

    @classmethod
    def for_profile(cls, kube: KubernetesReader, profile: AddonProfile) -> DeploymentRolloutCheck:
        """The hook of a profile whose main workload is a Deployment (engine/hooks.py)."""
        workload = main_workload(profile)
        if workload is None or workload.kind is not WorkloadKind.DEPLOYMENT:
            raise InputError(
                f"eksaddon knows no Deployment of {profile.name} to check on the cluster"
            )
        settings = None if isinstance(profile.settings, NoSettings) else profile.settings
        check = cls(kube, workload, settings=settings)
        check.profile_note = profile.node_side_note
        return check

    @property
    def label(self) -> str:
        return f"Deployment {self.workload.namespace}/{self.workload.name}"

    @property
    def notice(self) -> str | None:
        notes = [self.profile_note] if self.profile_note else []
        if self.workload.image_tag in (None, ImageTagRule.UNRELATED):
            notes.append(
                f"the image tag of {self.label} does not show the add-on version: each step's "
                "rollout check follows the Deployment's generation, not the version it runs"
            )
        return "; ".join(notes) or None

    def check_target(self, cluster: ClusterInfo) -> None:
        """Before any change: the right cluster, and the Deployment actually there."""
        ensure_same_cluster(self.kube.host, cluster)
        if self._read() is None:
            raise InputError(
                f"the {self.label} is absent on cluster {cluster.name}: eksaddon changes nothing",
                hint="check the add-on's workload (kubectl get deployment -n "
                f"{self.workload.namespace}), or skip the node side (--skip-rollout-check)",
            )

    def read_objects(self, refs: Iterable[ObjectRef]) -> Objects:
        """The objects a profile's settings rules read, each None when it is absent."""
        readers = {
            "Deployment": self.kube.read_deployment,
            "DaemonSet": self.kube.read_daemonset,
            CONFIG_MAP: self.kube.read_config_map,
        }
        found: dict[ObjectRef, Mapping[str, Any] | None] = {}
        for ref in refs:
            reader = readers.get(ref.kind)
            if reader is None:
                raise InputError(f"eksaddon cannot read a {ref.kind} ({ref}) for the settings")
            found[ref] = reader(ref.namespace, ref.name)
        return found

    def customizations(self, matrix: Matrix) -> tuple[Setting, ...]:
        """The settings running now (differences from the version's defaults)."""
        if self.settings is None:
            return ()
        return self.settings.custom(self.read_objects(self.settings.sources(matrix)), matrix)

    def expect(self, matrix: Matrix, settings: Iterable[Setting]) -> None:
        """After each rollout, these settings must run, or the run stops."""
        self.matrix = matrix
        self.expected = tuple(settings)

    def after_step(self, ctx: StepView, step: Step) -> None:
        self(ctx, step)

    def __call__(self, ctx: StepView, step: Step) -> None:
        last: RolloutProgressed | None = None
        rollout: DeploymentRollout | None = None
        failures, last_error = 0, None
        broke_budget: set[str] = set()
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
                broke_budget |= {b.describe() for b in rollout.budgets if b.broken}
                progressed = self._progressed(ctx, rollout)
                if progressed != last:
                    last = progressed
                    ctx.progress(progressed)
                if rollout.deadline_exceeded is not None:
                    self._stop(ctx, step, rollout, None)
                if rollout.done:
                    self._report_budgets(ctx, rollout, broke_budget)
                    self._check_settings(ctx, step)
                    return
            if schedule.next(failures) > ctx.deadline:
                self._stop(ctx, step, rollout, last_error)
            schedule.wait()

    def _read(self) -> dict[str, Any] | None:
        return self.kube.read_deployment(self.workload.namespace, self.workload.name)

    def _assess(self, ctx: StepView, step: Step) -> DeploymentRollout:
        deployment = self._read()
        if deployment is None:
            raise UpgradeStoppedError(
                f"{self.label} is missing on cluster {ctx.cluster} after step {ctx.number}",
                hint="check the add-on (eksaddon status), then rerun to resume",
            )
        budgets = self.kube.disruption_budgets(self.workload.namespace)
        tag = image_tag(deployment, self.workload.version_container)
        if tag_shows(self.workload, tag, step.target) is False:
            # EKS has not rewritten the Deployment yet: no replica can be current.
            return assess_deployment({**deployment, "status": {}}, [], budgets)._replace(
                behind=(f"the template still runs {tag}",)
            )
        selector = selector_of(deployment)
        pods = self.kube.pods(self.workload.namespace, selector) if selector else []
        return assess_deployment(deployment, pods, budgets)

    def _progressed(self, ctx: StepView, rollout: DeploymentRollout) -> RolloutProgressed:
        # Until the controller has observed the new template, its status counts the replicas
        # of the old one: shown as updated, they would read "3/3" before the rollout began.
        updated = min(rollout.updated, rollout.available) if rollout.generation_seen else 0
        return RolloutProgressed(
            ctx.number,
            ctx.total,
            self.workload.name,
            updated,
            rollout.desired,
            rollout.behind,
            unit="replicas",
        )

    def _stop(
        self,
        ctx: StepView,
        step: Step,
        rollout: DeploymentRollout | None,
        last_error: ApiError | None,
    ) -> None:
        stall = describe_deployment_stall(rollout) if rollout is not None else "no answer"
        if last_error is not None:
            stall = f"{stall} (last error: {last_error.one_line()})"
        when = (
            "stalled"
            if rollout is not None and rollout.deadline_exceeded is not None
            else "did not finish within the step's timeout"
        )
        namespace = self.workload.namespace
        raise UpgradeStoppedError(
            f"the {self.label} rollout of {step.target} {when} on cluster {ctx.cluster} "
            f"(step {ctx.number} of {ctx.total}): {stall}",
            hint=f"check those pods (kubectl describe deployment -n {namespace} "
            f"{self.workload.name}; kubectl get pdb -n {namespace}), then rerun to resume",
        )

    def _report_budgets(self, ctx: StepView, rollout: DeploymentRollout, broke: set[str]) -> None:
        for budget in sorted(broke):
            ctx.progress(
                Notice(
                    f"[{ctx.number}/{ctx.total}] during the rollout of {self.label} "
                    f"{budget} was not met for a while (it is met again)"
                )
            )
        for finding in budget_findings(rollout, self.label):
            ctx.progress(Notice(f"[{ctx.number}/{ctx.total}] {finding}"))

    def _check_settings(self, ctx: StepView, step: Step) -> None:
        if not self.expected or self.matrix is None or self.settings is None:
            return
        objects = self.read_objects(self.settings.sources(self.matrix))
        lost = drifted(self.expected, self.settings.running(objects, self.matrix))
        if lost:
            raise UpgradeStoppedError(
                f"after step {ctx.number} of {ctx.total} ({step.target}) on cluster {ctx.cluster} "
                f"the {self.label} does not run the carried settings: {'; '.join(lost)}",
                hint="restore them (the backup has the configuration values), then rerun",
            )
