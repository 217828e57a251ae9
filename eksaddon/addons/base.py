"""The add-on profile: everything the core asks about an add-on, behind one small protocol.

The model is pre-commit's ``lang_base.py`` and ``all_languages.py``: every language answers the
same few questions, the core looks one up by name and never branches on it. Here the planner,
engine, reports and cli ask an :class:`AddonProfile` and name no add-on:

* ``matrix`` — the bundled (or ``--matrix``) data, or an empty one for an add-on known only to
  the live catalogue; its ``policy`` is the version policy (how far one update may move, gates);
* ``workloads`` — what runs on the nodes (kind, namespace, name, the container whose image shows
  the version, and how its tag maps to an add-on version, or that it cannot);
* ``settings`` — what counts as a custom setting, read from Kubernetes objects the profile names
  (pure: the engine reads the objects, the profile interprets them), carried into configuration
  values, or listed as what cannot be carried;
* ``who_manages`` — self-managed detection from the same objects;
* ``refuse_change`` — a profile's own reason not to touch a cluster (vpc-cni: another CNI runs);
* ``node_side_note`` — the line that says what eksaddon does not check on the nodes.

The node-side hook run after every step is the explicit :class:`NodeSideHook` protocol. Hooks are
built by the engine from a profile's workloads (one hook per workload kind), so a profile stays
data plus pure functions and never reaches into the core.

A new add-on with standard rules needs only a YAML file (:class:`DataProfile` reads it); one with
node-side settings adds a module with a ``DataProfile`` subclass and one line in
``eksaddon.addons.PROFILE_MODULES``.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, NamedTuple, Protocol

from eksaddon.errors import InvalidVersionError
from eksaddon.gateways.protocols import ClusterInfo
from eksaddon.matrix.model import AddonType, Customization, Matrix, Workload, WorkloadKind
from eksaddon.planner import Step
from eksaddon.versions import AddonVersion, ImageTagRule, parse_image_tag

# A setting as the core carries it (and the journal records it: container, name, value).
Setting = Customization

CONFIG_MAP = "ConfigMap"


class ObjectRef(NamedTuple):
    """A Kubernetes object a profile reads (kind: DaemonSet, Deployment, ConfigMap)."""

    kind: str
    namespace: str
    name: str

    def __str__(self) -> str:
        return f"{self.kind} {self.namespace}/{self.name}"


# What the engine read for a profile: each object named, None when it is absent.
Objects = Mapping[ObjectRef, Mapping[str, Any] | None]


class Carried(NamedTuple):
    """Configuration values with the settings they now hold, and those they cannot hold."""

    values: dict[str, Any]
    carried: tuple[Setting, ...]
    not_carried: tuple[Setting, ...]


class SettingsRules(Protocol):
    """An add-on's custom settings: where they live, what they are, where they go.

    All pure: ``objects`` holds what the engine read for :meth:`sources`.
    """

    def sources(self, matrix: Matrix) -> tuple[ObjectRef, ...]:
        """The objects the settings are read from (the engine reads them, None when absent)."""
        ...

    def custom(self, objects: Objects, matrix: Matrix) -> tuple[Setting, ...]:
        """The settings that differ from the running version's defaults."""
        ...

    def running(self, objects: Objects, matrix: Matrix) -> Mapping[tuple[str, str], str | None]:
        """Every setting running now, defaults included, keyed by (container, name): after a
        step, each carried setting must be found here with its value."""
        ...

    def carry(self, values: Mapping[str, Any], settings: Iterable[Setting]) -> Carried:
        """``values`` plus every setting they can express (values already set win)."""
        ...

    def remove(self, values: Mapping[str, Any], names: Iterable[str]) -> dict[str, Any]:
        """``values`` without the named settings (``--force`` drops what a target cannot hold)."""
        ...


class NoSettings:
    """An add-on whose node-side settings eksaddon does not read: nothing is carried."""

    def sources(self, matrix: Matrix) -> tuple[ObjectRef, ...]:
        return ()

    def custom(self, objects: Objects, matrix: Matrix) -> tuple[Setting, ...]:
        return ()

    def running(self, objects: Objects, matrix: Matrix) -> Mapping[tuple[str, str], str | None]:
        return {}

    def carry(self, values: Mapping[str, Any], settings: Iterable[Setting]) -> Carried:
        return Carried(copy.deepcopy(dict(values)), (), tuple(settings))

    def remove(self, values: Mapping[str, Any], names: Iterable[str]) -> dict[str, Any]:
        return copy.deepcopy(dict(values))


def drifted(
    expected: Iterable[Setting], running: Mapping[tuple[str, str], str | None]
) -> list[str]:
    """Settings that should run on the nodes but do not (or run with another value).

    ``running`` has every setting, defaults included: a carried value that became the new
    release's default still counts.
    """
    return [
        f"{c.container}/{c.name}: expected {c.value!r}, found "
        f"{running.get((c.container, c.name), 'the default')!r}"
        for c in expected
        if running.get((c.container, c.name)) != c.value
    ]


def unknown_to_schema(
    rules: SettingsRules,
    settings: Iterable[Setting],
    fits: Callable[[dict[str, Any]], bool],
) -> list[Setting]:
    """The settings a target's configuration schema cannot hold (``fits`` checks a document)."""
    return [item for item in settings if not fits(rules.carry({}, [item]).values)]


class VersionReading(NamedTuple):
    """What a workload's image shows: the add-on version, or None and why not."""

    version: AddonVersion | None
    why_unknown: str | None = None


def workload_version(workload: Workload, document: Mapping[str, Any] | None) -> VersionReading:
    """The add-on version a workload's version container runs, read from its image tag."""
    if document is None:
        return VersionReading(
            None, f"{workload.kind} {workload.namespace}/{workload.name} is absent"
        )
    if workload.image_tag is None:
        return VersionReading(None, f"no source shows how {workload.name}'s image is tagged")
    tag = image_tag(document, workload.version_container)
    if tag is None:
        return VersionReading(
            None, f"container {workload.version_container} of {workload.name} has no image tag"
        )
    reading = parse_image_tag(tag, workload.image_tag)
    return VersionReading(reading.addon_version, reading.why_unknown)


def image_tag(document: Mapping[str, Any], container: str) -> str | None:
    """The tag of ``container``'s image in a workload's pod template (None: none, or no tag)."""
    spec = document.get("spec")
    template = spec.get("template") if isinstance(spec, Mapping) else None
    pod = template.get("spec") if isinstance(template, Mapping) else None
    containers = pod.get("containers") if isinstance(pod, Mapping) else None
    if not isinstance(containers, list):
        return None
    image = next(
        (
            c.get("image")
            for c in containers
            if isinstance(c, Mapping) and c.get("name") == container
        ),
        None,
    )
    if not isinstance(image, str) or ":" not in image.rsplit("/", 1)[-1]:
        return None
    return image.rsplit(":", 1)[1]


def tag_shows(workload: Workload, tag: str | None, target: AddonVersion) -> bool | None:
    """Whether an image ``tag`` is ``target``'s; None when the tag cannot tell (say so)."""
    if tag is None or workload.image_tag in (None, ImageTagRule.UNRELATED):
        return None
    try:
        return parse_image_tag(tag, workload.image_tag).addon_version == target
    except InvalidVersionError:
        return False  # a tag of another form is not the target's


# -- the node-side hook ----------------------------------------------------------------------


class StepClock(Protocol):
    def now(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...


class StepView(Protocol):
    """What a node-side hook sees of the step it checks (the engine's StepContext)."""

    @property
    def cluster(self) -> str: ...

    @property
    def addon(self) -> str: ...

    @property
    def number(self) -> int: ...

    @property
    def total(self) -> int: ...

    @property
    def deadline(self) -> float: ...

    @property
    def poll_interval(self) -> float: ...

    @property
    def clock(self) -> StepClock: ...

    @property
    def progress(self) -> Callable[[Any], None]: ...


class NodeSideHook(Protocol):
    """The node-side part of an upgrade, asked in this order by the step runner:

    1. ``check_target`` before any change: the kubeconfig sees this cluster and the add-on
       really runs there (raise an InputError, exit 2/3: nothing changed);
    2. ``customizations`` before any change: the settings running now, to carry;
    3. ``expect`` once the settings are fixed: each must be back after every step;
    4. ``after_step`` after EKS (or the applied manifest) reports the step done: wait, within
       the step's deadline, for the rollout and the carried settings (raise
       UpgradeStoppedError, exit 4, when they do not come).
    ``notice`` is the line shown with the plan when something is not checked (None: all is).
    """

    @property
    def notice(self) -> str | None: ...

    def check_target(self, cluster: ClusterInfo) -> None: ...

    def customizations(self, matrix: Matrix) -> tuple[Setting, ...]: ...

    def expect(self, matrix: Matrix, settings: Iterable[Setting]) -> None: ...

    def after_step(self, ctx: StepView, step: Step) -> None: ...


class NoNodeSide:
    """The hook of an add-on whose nodes eksaddon does not check: EKS's ACTIVE is all there is."""

    def __init__(self, notice: str | None) -> None:
        self._notice = notice

    @property
    def notice(self) -> str | None:
        return self._notice

    def check_target(self, cluster: ClusterInfo) -> None:
        return None

    def customizations(self, matrix: Matrix) -> tuple[Setting, ...]:
        return ()

    def expect(self, matrix: Matrix, settings: Iterable[Setting]) -> None:
        return None

    def after_step(self, ctx: StepView, step: Step) -> None:
        return None


# -- the profile ------------------------------------------------------------------------------


class AddonProfile(Protocol):
    """What the core knows about one add-on."""

    @property
    def name(self) -> str: ...

    @property
    def matrix(self) -> Matrix:
        """Bundled or ``--matrix`` data; for a live-only add-on an empty matrix whose policy is
        the live catalogue's (any offered build, one update)."""
        ...

    @property
    def live_only(self) -> bool:
        """True when no matrix file exists: plans and checks stand on the live catalogue only."""
        ...

    @property
    def workloads(self) -> tuple[Workload, ...]: ...

    @property
    def settings(self) -> SettingsRules: ...

    @property
    def renders_manifests(self) -> bool:
        """Whether eksaddon has this add-on's manifests (``render``, self-managed upgrades)."""
        ...

    @property
    def node_side_note(self) -> str | None:
        """What eksaddon does not check on the nodes for this add-on (None: nothing missing)."""
        ...

    def who_manages(self, objects: Objects) -> AddonType | None:
        """Self-managed or managed, from the objects of :attr:`settings`' sources and the
        workloads (None: the evidence does not tell)."""
        ...

    def replaced_by(self, daemonsets: Sequence[Mapping[str, Any]]) -> str | None:
        """What the cluster's DaemonSets show runs instead of this add-on (vpc-cni: another
        CNI), by display name; None: nothing known to replace it."""
        ...

    def refuse_change(
        self,
        workload: Mapping[str, Any] | None,
        daemonsets: Sequence[Mapping[str, Any]],
        *,
        cluster: str,
    ) -> str | None:
        """Why nothing may change on ``cluster`` (given the add-on's main workload, None when
        absent, and every DaemonSet on the cluster), as one sentence naming it; None: go on."""
        ...


class DataProfile:
    """A profile read entirely from its matrix: standard rules, no node-side settings.

    Subclasses override what their add-on needs (settings, detection, ``refuse_change``).
    """

    renders_manifests = False

    def __init__(self, matrix: Matrix, *, live_only: bool = False) -> None:
        self._matrix = matrix
        self._live_only = live_only

    @property
    def name(self) -> str:
        return self._matrix.addon

    @property
    def matrix(self) -> Matrix:
        return self._matrix

    @property
    def live_only(self) -> bool:
        return self._live_only

    @property
    def workloads(self) -> tuple[Workload, ...]:
        return self._matrix.workloads

    @property
    def settings(self) -> SettingsRules:
        return NoSettings()

    @property
    def node_side_note(self) -> str | None:
        if not self.workloads:
            return (
                f"eksaddon knows no node-side workload of {self.name}: it trusts EKS's ACTIVE "
                "alone and checks no pods or settings on the nodes"
            )
        if isinstance(self.settings, NoSettings):
            return (
                f"eksaddon reads no custom settings of {self.name} on the nodes: only the "
                "configuration values EKS holds are kept"
            )
        return None

    def who_manages(self, objects: Objects) -> AddonType | None:
        return None

    def replaced_by(self, daemonsets: Sequence[Mapping[str, Any]]) -> str | None:
        return None

    def refuse_change(
        self,
        workload: Mapping[str, Any] | None,
        daemonsets: Sequence[Mapping[str, Any]],
        *,
        cluster: str,
    ) -> str | None:
        return None


def main_workload(profile: AddonProfile) -> Workload | None:
    """The workload whose rollout shows the add-on's version (the first one listed)."""
    return profile.workloads[0] if profile.workloads else None


def is_daemonset(workload: Workload) -> bool:
    return workload.kind is WorkloadKind.DAEMONSET
