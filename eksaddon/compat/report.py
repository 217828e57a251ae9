"""The result of ``check-compat``: findings, each from a named check, and the plans behind them.

Plain records (what reports render and the gate collects); the checks live in
:mod:`eksaddon.compat.paths` and :mod:`eksaddon.compat`.
"""

from __future__ import annotations

from enum import Enum
from typing import TYPE_CHECKING, NamedTuple

from eksaddon.matrix.model import AddonType
from eksaddon.planner import Plan
from eksaddon.versions import AddonVersion, KubernetesVersion

if TYPE_CHECKING:  # only --daemonset runs need the DaemonSet reader
    from eksaddon.nodeside.detect import DetectedAddon

CHECKS = ("offered", "latest", "upgrade-path", "target-kubernetes", "features", "settings")

MANAGED_PATH = "if it is the EKS add-on"
SELF_MANAGED_PATH = "if it is self-managed"


class Severity(str, Enum):
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"

    @property
    def rank(self) -> int:
        return {"info": 0, "warning": 1, "error": 2}[self.value]

    def __str__(self) -> str:
        return self.value


class Finding(NamedTuple):
    check: str
    code: str
    severity: Severity
    message: str


class CompatReport(NamedTuple):
    addon: str
    matrix_origin: str
    kubernetes: KubernetesVersion
    target_kubernetes: KubernetesVersion | None
    # Text only when EKS reported a build eksaddon cannot read (live check-compat shows it as
    # it is, and no check that needs the version runs).
    addon_version: AddonVersion | str
    # None: who manages the add-on is unknown; ``plans`` then holds the plan of each path.
    addon_type: AddonType | None
    checks: tuple[str, ...]
    findings: tuple[Finding, ...]
    plan: Plan | None
    detected: DetectedAddon | None
    fail_on: Severity = Severity.ERROR
    plans: tuple[tuple[AddonType, Plan | None], ...] = ()

    @property
    def type_name(self) -> str:
        return "unknown" if self.addon_type is None else str(self.addon_type)

    @property
    def failed(self) -> bool:
        """Whether any finding is at or above the ``--fail-on`` level."""
        return any(self.fails(f) for f in self.findings)

    def fails(self, finding: Finding) -> bool:
        return finding.severity.rank >= self.fail_on.rank

    def findings_for(self, check: str) -> list[Finding]:
        return [f for f in self.findings if f.check == check]
