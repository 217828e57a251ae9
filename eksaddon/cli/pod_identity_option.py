"""``--pod-identity-association SERVICE_ACCOUNT=ROLE_ARN`` for install and upgrade."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import click

from eksaddon.addons.pod_identity import OPTION, parse_associations
from eksaddon.gateways.protocols import PodIdentityAssociation

F = TypeVar("F", bound=Callable[..., Any])


def pod_identity_option(function: F) -> F:
    """The repeatable option; the command receives ``pod_identity_association`` (a tuple)."""
    decorator = click.option(
        OPTION,
        "pod_identity_association",
        metavar="SERVICE_ACCOUNT=ROLE_ARN",
        multiple=True,
        help="EKS Pod Identity association the add-on owns (repeatable). Given, the list "
        "replaces the add-on's associations; omitted, they are kept.",
    )
    return decorator(function)


def associations(values: Sequence[str]) -> tuple[PodIdentityAssociation, ...] | None:
    """The parsed option (None when it was not given: EKS keeps the add-on's associations)."""
    return parse_associations(values)
