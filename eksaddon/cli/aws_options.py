"""Options of the commands that talk to EKS, and the gateway they build (boto3 imported on use)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    from eksaddon.gateways.protocols import EksGateway

F = TypeVar("F", bound=Callable[..., Any])


def aws_options(function: F) -> F:
    function = click.option(
        "--profile", metavar="NAME", help="AWS profile (default: the standard credential chain)."
    )(function)
    return click.option(
        "--region", metavar="REGION", help="AWS region (default: AWS_REGION or the profile's)."
    )(function)


def cluster_option(*, required: bool = True) -> Callable[[F], F]:
    return click.option("--cluster", metavar="NAME", required=required, help="EKS cluster name.")


def make_gateway(profile: str | None, region: str | None) -> EksGateway:
    # Imported here so that --help and offline commands never load boto3.
    from eksaddon.gateways.aws import AwsEksGateway

    return AwsEksGateway(profile=profile, region=region)
