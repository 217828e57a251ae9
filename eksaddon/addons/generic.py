"""The generic profile: an add-on eksaddon has no data for, known only to the live catalogue.

Plans stand on what EKS offers the cluster now (any offered build, in one update: no step rule is
known), and nothing is checked on the nodes. :attr:`GenericProfile.node_side_note` says so, so that
no report reads as if the nodes had been verified.
"""

from __future__ import annotations

from eksaddon.addons.base import DataProfile
from eksaddon.matrix.model import Matrix, PolicyKind, UpgradePolicy

LIVE_ORIGIN = "no bundled matrix (live catalogue only)"


def live_only_matrix(addon: str) -> Matrix:
    """An empty matrix: no Kubernetes versions, no builds; the live catalogue fills them in."""
    return Matrix(
        addon=addon,
        display_name=addon,
        as_of=None,
        origin=LIVE_ORIGIN,
        kubernetes={},
        builds=(),
        releases=(),
        policy=UpgradePolicy(
            max_minor_step=None,
            kind=PolicyKind.CATALOGUE,
            source="eksaddon has no rules for this add-on: any build EKS offers the cluster",
        ),
        features={},
        daemonset=None,
    )


class GenericProfile(DataProfile):
    """Any add-on EKS offers that eksaddon bundles no matrix for."""

    def __init__(self, addon: str) -> None:
        super().__init__(live_only_matrix(addon), live_only=True)

    @property
    def node_side_note(self) -> str | None:
        return (
            f"eksaddon has no profile for {self.name}: compatibility comes from the live "
            "catalogue only, and nothing is checked on the nodes (EKS's ACTIVE is trusted alone)"
        )
