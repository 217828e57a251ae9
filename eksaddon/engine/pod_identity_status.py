"""What ``status`` says about an add-on's EKS Pod Identity: the associations it owns (DescribeAddon)
and the AWS managed policies EKS recommends for its service accounts (DescribeAddonConfiguration's
podIdentityConfiguration, insights.yaml ``addon_pod_identity_fields``)."""

from __future__ import annotations

from typing import NamedTuple

from eksaddon.errors import ApiError
from eksaddon.gateways.protocols import AddonState, EksGateway, PodIdentityConfiguration
from eksaddon.versions import AddonVersion


class PodIdentityStatus(NamedTuple):
    # The associations the add-on owns (EKS's identifiers); () when it has none or is not an
    # EKS add-on.
    associations: tuple[str, ...]
    # What EKS recommends for ``build``; None when it could not be read (``note`` says why).
    recommended: tuple[PodIdentityConfiguration, ...] | None
    build: AddonVersion | None  # the build the recommendation is for
    note: str | None = None

    def describe_recommended(self) -> str:
        """One line: each service account with its recommended policies, or why unknown."""
        if self.recommended is None:
            return self.note or "unknown"
        if not self.recommended:
            return f"none (EKS recommends no role for {self.build})"
        return "; ".join(
            f"{c.service_account}: "
            f"{', '.join(c.recommended_managed_policies) or 'no managed policy'}"
            for c in self.recommended
        )


def pod_identity_status(
    gateway: EksGateway,
    addon: str,
    state: AddonState | None,
    *,
    offered: AddonVersion | None,
) -> PodIdentityStatus:
    """The associations of ``state`` and the recommendation for its build (for an add-on that is
    not an EKS add-on: for ``offered``, the build an install would get)."""
    associations = state.pod_identity_associations if state is not None else ()
    build = state.readable_version if state is not None else offered
    if build is None:
        why = "EKS reports a build eksaddon cannot read" if state is not None else "no build known"
        return PodIdentityStatus(associations, None, None, f"recommended policies unknown: {why}")
    try:
        recommended = gateway.pod_identity_configuration(addon, build)
    except ApiError as error:
        return PodIdentityStatus(
            associations, None, build, f"recommended policies unknown: {error.one_line()}"
        )
    return PodIdentityStatus(associations, tuple(recommended), build)
