"""A cluster-upgrade journey's control-plane update: UpdateClusterVersion, one minor, journaled.

The update is recorded in the journey's run journal (the ``control-plane`` item) around every
call, as the add-on upgrade records its updates:
- before sending: the client request token (``eksaddon-<run id>-cp.<attempt>``) and state
  ``running`` with no update id; a process killed here is resent on the rerun with the same
  token, which EKS answers with the update it already started, never a second one;
- after sending: the update id; a rerun follows that id (DescribeUpdate) and never sends again;
- at the end: ``succeeded`` once DescribeCluster shows the target version, or ``failed`` with
  EKS's errors (the next attempt gets a new token).
EKS's refusal because of upgrade insights (InvalidStateException) sends nothing: the item goes
back to pending with a new attempt, so that a rerun with ``--force-upgrade-insights`` sends a
new request with ``force`` rather than replaying the refused one.

Just before sending, the cluster must be ACTIVE and on the version the journey started from;
a cluster someone else already moved to the target is recorded as such, and nothing is sent.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, NamedTuple

from eksaddon.engine import journal as journals
from eksaddon.engine import run_journal as runs
from eksaddon.engine.events import (
    BackupWritten,
    ControlPlaneFinished,
    ControlPlanePolled,
    ControlPlaneStarted,
    Notice,
    Progress,
)
from eksaddon.engine.run_journal import RunJournal
from eksaddon.engine.state import write_json_atomically
from eksaddon.engine.waiting import Clock, PollSchedule, retrying
from eksaddon.errors import (
    ApiError,
    EnvironmentProblemError,
    InputError,
    InsightsBlockedError,
    UnexpectedAnswerError,
    UpdateInProgressError,
    UpgradeStoppedError,
)
from eksaddon.gateways.answers import shown
from eksaddon.gateways.protocols import (
    ClusterInfo,
    ClusterUpgradeGateway,
    ClusterVersionRequest,
    UpdateState,
)
from eksaddon.versions import KubernetesVersion

CONTROL_PLANE = "control-plane"


class ControlPlaneOptions(NamedTuple):
    timeout: float = 3600.0  # EKS takes tens of minutes; its own timeout, apart from add-ons'
    poll_interval: float = 30.0
    force: bool = False  # EKS's `force`: only with --force-upgrade-insights and consent


def next_minor(version: KubernetesVersion) -> KubernetesVersion:
    return KubernetesVersion.parse(f"{version.major}.{version.minor + 1}")


def check_one_minor(cluster: str, current: KubernetesVersion, target: KubernetesVersion) -> None:
    """EKS moves a control plane one minor at a time, never down: anything else is refused
    (exit 2) with the chain of updates that reaches ``target``."""
    if target.major != current.major or target.minor <= current.minor:
        raise InputError(
            f"cluster {cluster} runs Kubernetes {current}; {target} is not a newer minor "
            "(EKS never downgrades a control plane)",
            hint=f"pass --to {next_minor(current)}",
        )
    if target.minor > current.minor + 1:
        chain = [f"{current.major}.{m}" for m in range(current.minor + 1, target.minor + 1)]
        raise InputError(
            f"cluster {cluster} runs Kubernetes {current}; EKS updates the control plane one "
            f"minor at a time, so {target} takes {len(chain)} updates: "
            + " → ".join([str(current), *chain]),
            hint=f"run `eksaddon cluster-upgrade --cluster {cluster} --to {chain[0]}` first, "
            "then each next minor",
        )


def token(journal: RunJournal, item: dict[str, Any]) -> str:
    """The request token of the item's attempt: the same on every rerun of one attempt."""
    return f"eksaddon-{journal.run_id[:24]}-cp.{item.get('attempt', 1)}"


class ControlPlaneUpdate:
    """Carry (or keep following) the journey's control-plane update to its end."""

    def __init__(
        self,
        *,
        gateway: ClusterUpgradeGateway,
        journal: RunJournal,
        target: KubernetesVersion,
        options: ControlPlaneOptions,
        state_directory: Path,
        clock: Clock,
        progress: Progress,
    ) -> None:
        self.gateway = gateway
        self.journal = journal
        self.cluster = journal.identity.cluster
        self.source = journal.identity.kubernetes_version
        self.target = target
        self.options = options
        self.state_directory = state_directory
        self.clock = clock
        self.progress = progress

    @property
    def item(self) -> dict[str, Any]:
        return self.journal.item(CONTROL_PLANE)

    def run(self) -> ClusterInfo:
        item = self.item
        if item["state"] == runs.SUCCEEDED:
            return self.gateway.describe_cluster(self.cluster)
        if item["state"] == runs.FAILED:
            # A failed update's token would return that same update: a retry is a new attempt.
            self.journal.update_item(
                item, state=runs.PENDING, update_id=None, attempt=_attempt(item) + 1
            )
        started = self.clock.now()
        update_id = item.get("update_id")
        resumed = isinstance(update_id, str)
        if not isinstance(update_id, str):
            sent = self._send()
            if sent is None:  # someone else's update had already brought it there
                return self.gateway.describe_cluster(self.cluster)
            update_id = sent
        self.progress(
            ControlPlaneStarted(
                self.cluster,
                self.source,
                str(self.target),
                update_id,
                resumed,
                bool(item.get("force")),
            )
        )
        update = self._follow(update_id, started)
        if update.status != "Successful":
            errors = [{"code": e.code, "message": e.message} for e in update.errors]
            detail = "; ".join(f"{e.code}: {e.message}" for e in update.errors) or "no details"
            self.journal.update_item(
                item, state=runs.FAILED, errors=errors, error=f"{update.status}: {detail}"
            )
            raise UpgradeStoppedError(
                f"control-plane update {update_id} of cluster {self.cluster} to Kubernetes "
                f"{self.target} ended {update.status}: {detail} (EKS rolls a failed update "
                "back: the control plane stays on its version)",
                hint=self._rerun_hint(),
            )
        cluster = self.gateway.describe_cluster(self.cluster)
        if cluster.version != self.target:
            raise UpgradeStoppedError(
                f"control-plane update {update_id} of cluster {self.cluster} is Successful, but "
                f"DescribeCluster shows Kubernetes {cluster.version}, not {self.target}",
                hint=self._rerun_hint(),
            )
        self.journal.update_item(item, state=runs.SUCCEEDED, error=None)
        self.progress(
            ControlPlaneFinished(self.cluster, str(cluster.version), self.clock.now() - started)
        )
        return cluster

    # -- sending ------------------------------------------------------------------------------

    def _send(self) -> str | None:
        """Send UpdateClusterVersion (or resend it with the same token); the update id, or None
        when the cluster already runs the target."""
        item = self.item
        cluster = self.gateway.describe_cluster(self.cluster)
        if cluster.version == self.target:
            self.progress(
                Notice(
                    f"cluster {self.cluster} already runs Kubernetes {self.target}: no "
                    "control-plane update is sent"
                )
            )
            self.journal.update_item(item, state=runs.SUCCEEDED, error=None)
            return None
        resending = item["state"] == runs.RUNNING  # killed between recording and the answer
        if not resending:
            self._check_starting_point(cluster)
            backup = self._backup(cluster)
            self.journal.update_item(
                item,
                state=runs.RUNNING,
                update_id=None,
                force=self.options.force,
                token=None,
                backup=str(backup),
                attempt=_attempt(item),
            )
            self.journal.update_item(item, token=token(self.journal, item))
        request = ClusterVersionRequest(
            self.cluster, self.target, token(self.journal, item), bool(item.get("force"))
        )
        try:
            update = retrying(
                lambda: self.gateway.update_cluster_version(request),
                clock=self.clock,
                deadline=self.clock.now() + self.options.timeout,
                poll_interval=self.options.poll_interval,
            )
        except InsightsBlockedError:
            # Refused: nothing was started. The next request is a new attempt (new token).
            self.journal.update_item(
                item, state=runs.PENDING, attempt=_attempt(item) + 1, error="insights refused"
            )
            raise
        except UpdateInProgressError as error:
            self.journal.update_item(item, state=runs.PENDING, attempt=_attempt(item) + 1)
            raise EnvironmentProblemError(
                f"EKS refused the control-plane update of cluster {self.cluster}: another "
                f"update is in progress ({error.message})",
                hint="wait for it to finish (`aws eks list-updates`), then rerun",
            ) from error
        self.journal.update_item(item, update_id=update.id)
        return update.id

    def _check_starting_point(self, cluster: ClusterInfo) -> None:
        """Just before sending: the cluster runs the version the journey started from, and is
        ACTIVE (an UPDATING cluster has someone else's update running)."""
        if str(cluster.version) != self.source:
            raise UpgradeStoppedError(
                f"cluster {self.cluster} runs Kubernetes {cluster.version}, not {self.source} as "
                "the journey expects before its control-plane update: someone changed it "
                "meanwhile; nothing more was sent",
                hint="check it (`eksaddon check-compat`), then rerun `eksaddon cluster-upgrade "
                "--discard-journal` to plan afresh",
            )
        if cluster.status != "ACTIVE":
            raise EnvironmentProblemError(
                f"cluster {self.cluster} is {shown(cluster.status)}, not ACTIVE: the control-plane "
                "update is not sent",
                hint="rerun once it is ACTIVE",
            )

    def _backup(self, cluster: ClusterInfo) -> Path:
        """What the control plane ran before the update (EKS cannot downgrade it: this is the
        record of where the journey started, not a way back)."""
        path = journals.backup_path(
            self.state_directory,
            region=cluster.region,
            cluster=cluster.name,
            addon=CONTROL_PLANE,
        )
        write_json_atomically(
            path,
            {
                "backup_version": 1,
                "taken_at": journals.now(),
                "region": cluster.region,
                "cluster": cluster.name,
                "cluster_arn": cluster.arn,
                "kubernetes_version": str(cluster.version),
                "platform_version": cluster.platform_version,
                "status": cluster.status,
                "target_kubernetes_version": str(self.target),
            },
        )
        self.progress(BackupWritten(path))
        return path

    # -- following ----------------------------------------------------------------------------

    def _follow(self, update_id: str, started: float) -> UpdateState:
        """DescribeUpdate until the update ends, within the control-plane timeout."""
        deadline = started + self.options.timeout
        failures = 0
        last_error: ApiError | None = None
        schedule = PollSchedule(self.clock, self.options.poll_interval)
        while True:
            try:
                state = self.gateway.describe_cluster_update(self.cluster, update_id)
            except UnexpectedAnswerError as error:
                raise UpgradeStoppedError(
                    f"control-plane update {update_id} of cluster {self.cluster}: {error.message}",
                    hint=self._rerun_hint(),
                ) from error
            except ApiError as error:
                if not error.temporary:
                    raise
                last_error, failures = error, failures + 1
            else:
                last_error, failures = None, 0
                self.progress(
                    ControlPlanePolled(update_id, state.status, self.clock.now() - started)
                )
                if not state.known_status:
                    raise UpgradeStoppedError(
                        f"control-plane update {update_id} of cluster {self.cluster} has a "
                        f"status eksaddon does not know: {shown(state.status)}",
                        hint=self._rerun_hint(),
                    )
                if state.finished:
                    return state
            if schedule.next(failures) > deadline:
                cause = f" (last error: {last_error.one_line()})" if last_error else ""
                raise UpgradeStoppedError(
                    f"timed out after {self.options.timeout:.0f}s following control-plane update "
                    f"{update_id} of cluster {self.cluster} to Kubernetes {self.target}{cause}; "
                    "the update goes on at EKS",
                    hint=self._rerun_hint(),
                )
            schedule.wait()

    def _rerun_hint(self) -> str:
        return (
            f"the journal is kept at {self.journal.path}; rerun `eksaddon cluster-upgrade "
            f"--cluster {self.cluster} --to {self.target}` to continue (an update in flight is "
            "followed by its id, never sent twice)"
        )


def _attempt(item: dict[str, Any]) -> int:
    attempt = item.get("attempt", 1)
    return attempt if type(attempt) is int and attempt >= 1 else 1
