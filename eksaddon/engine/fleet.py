"""Fleet checks: ``check-compat`` over many clusters, concurrently, for CI gates.

One unreachable or forbidden cluster is an outcome in the report, never a crash. The version
catalogue is read once per (region, Kubernetes version), whatever the number of clusters, and one
boto3 client serves every cluster of the same region and credentials (clients are thread-safe).

A fleet's wall time is its critical path of API calls: the reads a cluster's check starts with
depend on nothing but the cluster's name, so they are issued together (:data:`FIRST_READS`), and
the regions of ``--all-clusters`` are listed at the same time.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor, as_completed, wait
from pathlib import Path
from typing import Any, NamedTuple, Protocol, TypeVar

from eksaddon.compat import CompatReport, Severity
from eksaddon.datafiles import read_document
from eksaddon.engine.catalogue import Overlays
from eksaddon.engine.events import FleetProgress
from eksaddon.engine.status import live_check_compat
from eksaddon.errors import EksAddonError, ExitCode, InputError, InputFileError
from eksaddon.gateways.protocols import (
    AddonRequest,
    AddonState,
    CatalogueEntry,
    ClusterInfo,
    ClusterVersionRequest,
    EksGateway,
    InsightDetail,
    InsightSummary,
    NodegroupInfo,
    PodIdentityConfiguration,
    UpdateState,
)
from eksaddon.matrix.model import Matrix
from eksaddon.versions import AddonVersion, KubernetesVersion


class FleetTarget(NamedTuple):
    name: str
    region: str | None = None
    profile: str | None = None
    role_arn: str | None = None

    @property
    def key(self) -> str:
        return f"{self.region or '-'}/{self.name}"

    @property
    def credentials(self) -> tuple[str | None, str | None, str | None]:
        return (self.region, self.profile, self.role_arn)


class ClusterOutcome(NamedTuple):
    target: FleetTarget
    report: CompatReport | None
    error: str | None
    exit_code: ExitCode


class FleetReport(NamedTuple):
    addon: str
    outcomes: tuple[ClusterOutcome, ...]
    fail_on: Severity
    shard: str | None

    @property
    def exit_code(self) -> ExitCode:
        """The worst result across the fleet: 3 (unreachable) > 1 (check failed) > 0."""
        return max((o.exit_code for o in self.outcomes), default=ExitCode.OK)


def parse_shard(text: str) -> tuple[int, int]:
    """``I/N`` (1-based) → (I, N); InputError for anything else."""
    index, slash, count = text.partition("/")
    if slash and index.isdigit() and count.isdigit() and 1 <= int(index) <= int(count) <= 10_000:
        return int(index), int(count)
    raise InputError(f"--shard {text!r} is not I/N with 1 <= I <= N (for example 2/8)")


def in_shard(target: FleetTarget, index: int, count: int) -> bool:
    """A cluster's shard depends only on its own region and name: adding one moves no other."""
    digest = hashlib.sha256(target.key.encode()).digest()
    return int.from_bytes(digest[:8], "big") % count == index - 1


def load_fleet_file(path: str | Path) -> list[FleetTarget]:
    """``--clusters FILE``: a YAML list (or ``clusters:`` list) of name/region/profile/role_arn."""
    document = read_document(path, what="clusters file")
    entries = document.get("clusters") if isinstance(document, dict) else document
    if not isinstance(entries, list) or not entries:
        raise InputFileError(f"clusters file {path} must hold a non-empty list of clusters")
    targets = [_target(entry, index, path) for index, entry in enumerate(entries)]
    seen: set[str] = set()
    for target in targets:
        if target.key in seen:
            raise InputFileError(f"clusters file {path}: {target.key} is listed twice")
        seen.add(target.key)
    return targets


def _target(entry: Any, index: int, path: str | Path) -> FleetTarget:
    where = f"clusters file {path}: entry {index}"
    if isinstance(entry, str):
        entry = {"name": entry}
    if not isinstance(entry, dict):
        raise InputFileError(f"{where} is not a mapping with a name")
    unknown = sorted(set(entry) - {"name", "region", "profile", "role_arn"})
    if unknown:
        raise InputFileError(
            f"{where} has unknown key {unknown[0]!r} (known: name, region, profile, role_arn)"
        )
    name = entry.get("name")
    if not isinstance(name, str) or not name:
        raise InputFileError(f"{where} has no name")
    optional = {k: entry.get(k) for k in ("region", "profile", "role_arn")}
    for key, value in optional.items():
        if value is not None and not isinstance(value, str):
            raise InputFileError(f"{where}: {key} must be a string")
    return FleetTarget(name, optional["region"], optional["profile"], optional["role_arn"])


class SharedCatalogue:
    """describe_addon_versions answers shared by every cluster of a region (single flight)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[tuple[str, str, KubernetesVersion], list[CatalogueEntry]] = {}
        self._locks: dict[tuple[str, str, KubernetesVersion], threading.Lock] = {}

    def get(
        self,
        region: str,
        addon: str,
        kubernetes: KubernetesVersion,
        fetch: Callable[[], list[CatalogueEntry]],
    ) -> list[CatalogueEntry]:
        key = (region, addon, kubernetes)
        with self._lock:
            key_lock = self._locks.setdefault(key, threading.Lock())
        with key_lock:  # the first caller fetches; the others wait for its answer
            if key not in self._entries:
                self._entries[key] = fetch()
            return self._entries[key]


class _DelegatingGateway:
    """An EksGateway that passes every call to ``inner``; subclasses intercept some."""

    def __init__(self, inner: EksGateway) -> None:
        self._inner = inner

    @property
    def region(self) -> str:
        return self._inner.region

    def addon_versions(self, addon: str, kubernetes: KubernetesVersion) -> list[CatalogueEntry]:
        return self._inner.addon_versions(addon, kubernetes)

    def list_clusters(self) -> list[str]:
        return self._inner.list_clusters()

    def describe_cluster(self, cluster: str) -> ClusterInfo:
        return self._inner.describe_cluster(cluster)

    def describe_addon(self, cluster: str, addon: str) -> AddonState | None:
        return self._inner.describe_addon(cluster, addon)

    def configuration_schema(self, addon: str, version: AddonVersion) -> dict[str, Any] | None:
        return self._inner.configuration_schema(addon, version)

    def create_addon(self, request: AddonRequest) -> AddonState:
        return self._inner.create_addon(request)

    def update_addon(self, request: AddonRequest) -> UpdateState:
        return self._inner.update_addon(request)

    def describe_update(self, cluster: str, addon: str, update_id: str) -> UpdateState:
        return self._inner.describe_update(cluster, addon, update_id)

    def nodegroups(self, cluster: str) -> list[NodegroupInfo]:
        return self._inner.nodegroups(cluster)

    def fargate_profiles(self, cluster: str) -> list[str]:
        return self._inner.fargate_profiles(cluster)

    def pod_identity_configuration(
        self, addon: str, version: AddonVersion
    ) -> tuple[PodIdentityConfiguration, ...]:
        return self._inner.pod_identity_configuration(addon, version)

    def list_addons(self, cluster: str) -> list[str]:
        return self._inner.list_addons(cluster)

    def list_insights(self, cluster: str) -> list[InsightSummary]:
        return self._inner.list_insights(cluster)

    def describe_insight(self, cluster: str, insight_id: str) -> InsightDetail:
        return self._inner.describe_insight(cluster, insight_id)

    def update_cluster_version(self, request: ClusterVersionRequest) -> UpdateState:
        return self._inner.update_cluster_version(request)

    def describe_cluster_update(self, cluster: str, update_id: str) -> UpdateState:
        return self._inner.describe_cluster_update(cluster, update_id)


class CachingGateway(_DelegatingGateway):
    """An EksGateway whose catalogue reads go through a :class:`SharedCatalogue`."""

    def __init__(self, inner: EksGateway, catalogue: SharedCatalogue) -> None:
        super().__init__(inner)
        self._catalogue = catalogue

    def addon_versions(self, addon: str, kubernetes: KubernetesVersion) -> list[CatalogueEntry]:
        return self._catalogue.get(
            self.region, addon, kubernetes, lambda: self._inner.addon_versions(addon, kubernetes)
        )


# The reads each cluster's check begins with, by gateway method: independent of each other (only
# the cluster's and add-on's names go in), so they go out together. A new independent read (say
# ListAddons or ListNodegroups) is one more entry here and a method on _PrefetchedGateway.
FIRST_READS: tuple[str, ...] = ("describe_cluster", "describe_addon")


def requests_in_flight(concurrency: int) -> int:
    """How many API requests a fleet check may have open at once (size connection pools so)."""
    return max(1, concurrency) * len(FIRST_READS)


class _PrefetchedGateway(_DelegatingGateway):
    """One cluster's gateway whose :data:`FIRST_READS` were already issued, side by side.

    The check asks for them as before and gets the very answer (or error) the call gave; any other
    call, or one for another cluster or add-on, goes to the shared gateway as usual.
    """

    def __init__(
        self, inner: EksGateway, cluster: str, addon: str, reads: dict[str, Future[Any]]
    ) -> None:
        super().__init__(inner)
        self._cluster = cluster
        self._addon = addon
        self._reads = reads

    def _answer(self, read: str) -> Any:
        return self._reads.pop(read).result()

    def describe_cluster(self, cluster: str) -> ClusterInfo:
        if cluster == self._cluster and "describe_cluster" in self._reads:
            answer: ClusterInfo = self._answer("describe_cluster")
            return answer
        return self._inner.describe_cluster(cluster)

    def describe_addon(self, cluster: str, addon: str) -> AddonState | None:
        if (cluster, addon) == (self._cluster, self._addon) and "describe_addon" in self._reads:
            answer: AddonState | None = self._answer("describe_addon")
            return answer
        return self._inner.describe_addon(cluster, addon)

    def settle(self) -> None:
        """Wait for reads the check did not ask for (it stopped early), dropping their answers."""
        wait(list(self._reads.values()))
        self._reads.clear()


def _issue_first_reads(
    gateway: EksGateway, cluster: str, addon: str, reads: ThreadPoolExecutor
) -> _PrefetchedGateway:
    """Send every first read: all but one on ``reads``, the first on the calling thread itself
    while the others are in flight (one thread hand-over fewer per cluster; the answers, or the
    errors, are kept for the check whatever order it asks in)."""
    calls: dict[str, Callable[[], Any]] = {
        "describe_cluster": lambda: gateway.describe_cluster(cluster),
        "describe_addon": lambda: gateway.describe_addon(cluster, addon),
    }
    assert tuple(calls) == FIRST_READS
    (first, call), *others = calls.items()
    issued = {name: reads.submit(other) for name, other in others}
    answered: Future[Any] = Future()
    try:
        answered.set_result(call())
    except BaseException as error:  # kept for the check, as a pool's future would keep it
        answered.set_exception(error)
    return _PrefetchedGateway(gateway, cluster, addon, {first: answered, **issued})


GatewayFactory = Callable[[str | None, str | None, str | None], EksGateway]


class GatewayPool:
    """One gateway per (region, profile, role), created on first use, shared across threads."""

    def __init__(self, factory: GatewayFactory) -> None:
        self._factory = factory
        self._lock = threading.Lock()
        self._gateways: dict[tuple[str | None, str | None, str | None], EksGateway] = {}
        self.catalogue = SharedCatalogue()
        # The catalogue laid over a matrix once for all the clusters that share it.
        self.overlays = Overlays()

    def get(self, target: FleetTarget) -> EksGateway:
        with self._lock:
            gateway = self._gateways.get(target.credentials)
            if gateway is None:
                gateway = CachingGateway(self._factory(*target.credentials), self.catalogue)
                self._gateways[target.credentials] = gateway
                # A gateway made for "the default region" also serves that region by name.
                named = (gateway.region, target.profile, target.role_arn)
                self._gateways.setdefault(named, gateway)
            return gateway


def discover(
    pool: GatewayPool, regions: Iterable[str | None], *, profile: str | None = None
) -> list[FleetTarget]:
    """``--all-clusters``: every cluster of each region, the regions listed at the same time.

    The targets come in the order of ``regions``; if listing fails in several regions, the error
    raised is the first region's, as when they were listed one after the other.
    """

    def listed(region: str | None) -> list[FleetTarget]:
        gateway = pool.get(FleetTarget("", region, profile))
        return [FleetTarget(name, gateway.region, profile) for name in gateway.list_clusters()]

    regions = list(regions)
    with ThreadPoolExecutor(max_workers=max(1, len(regions))) as executor:
        listings = [executor.submit(listed, region) for region in regions]
    return [target for listing in listings for target in listing.result()]


class _Outcome(Protocol):
    """What the fleet runner needs of an outcome (ClusterOutcome, the gate's GateOutcome)."""

    @property
    def target(self) -> FleetTarget: ...

    @property
    def exit_code(self) -> ExitCode: ...


OutcomeT = TypeVar("OutcomeT", bound=_Outcome)


def over_fleet(
    targets: list[FleetTarget],
    check: Callable[[FleetTarget, ThreadPoolExecutor], OutcomeT],
    *,
    concurrency: int,
    requests_per_cluster: int,
    progress: Callable[[FleetProgress], None] | None = None,
) -> tuple[OutcomeT, ...]:
    """``check`` every target, at most ``concurrency`` clusters in flight, in target-key order.

    Each check is handed one shared executor for its reads, sized so that every cluster in
    flight can have ``requests_per_cluster`` reads open at once (independent reads go out
    together, not one after the other); progress is reported as each cluster finishes.
    """
    workers = max(1, concurrency)
    outcomes: list[OutcomeT] = []
    with (
        ThreadPoolExecutor(max_workers=workers * max(1, requests_per_cluster)) as reads,
        ThreadPoolExecutor(max_workers=workers) as executor,
    ):
        futures = [executor.submit(check, target, reads) for target in targets]
        failed = errors = 0
        for done, future in enumerate(as_completed(futures), start=1):
            outcome = future.result()
            outcomes.append(outcome)
            failed += outcome.exit_code == ExitCode.CHECK_FAILED
            errors += outcome.exit_code not in (ExitCode.OK, ExitCode.CHECK_FAILED)
            if progress is not None:
                progress(FleetProgress(done, len(targets), failed, errors))
    outcomes.sort(key=lambda o: o.target.key)
    return tuple(outcomes)


def check_fleet(
    targets: list[FleetTarget],
    *,
    pool: GatewayPool,
    matrix: Matrix,
    addon: str,
    target_kubernetes: KubernetesVersion | None,
    features: tuple[str, ...],
    fail_on: Severity,
    concurrency: int,
    shard: str | None = None,
    progress: Callable[[FleetProgress], None] | None = None,
) -> FleetReport:
    """check-compat every target with at most ``concurrency`` clusters in flight.

    Each cluster's :data:`FIRST_READS` are issued together, so at most
    :func:`requests_in_flight` requests are open at once.
    """

    def check(target: FleetTarget, reads: ThreadPoolExecutor) -> ClusterOutcome:
        prefetched: _PrefetchedGateway | None = None
        try:
            prefetched = _issue_first_reads(pool.get(target), target.name, addon, reads)
            report = live_check_compat(
                prefetched,
                matrix,
                cluster=target.name,
                addon=addon,
                target_kubernetes=target_kubernetes,
                features=features,
                fail_on=fail_on,
                overlays=pool.overlays,
            )
        except EksAddonError as error:
            return ClusterOutcome(target, None, error.one_line(), error.exit_code)
        finally:
            if prefetched is not None:
                prefetched.settle()
        code = ExitCode.CHECK_FAILED if report.failed else ExitCode.OK
        return ClusterOutcome(target, report, None, code)

    outcomes = over_fleet(
        targets,
        check,
        concurrency=concurrency,
        requests_per_cluster=len(FIRST_READS),
        progress=progress,
    )
    return FleetReport(addon, outcomes, fail_on, shard)
