"""The EKS gateway: the only module that imports boto3.

Credentials come from the standard chain (``--profile``, environment, SSO, instance roles);
``AWS_ENDPOINT_URL`` / ``AWS_ENDPOINT_URL_EKS`` are honoured by botocore itself. Throttling and 5xx
are retried by botocore's standard retry mode. Every SDK exception is translated here into an
:mod:`eksaddon.errors` type that names the cluster or add-on and what to do next.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import boto3
import botocore.config
import botocore.exceptions

from eksaddon.errors import (
    AccessDeniedError,
    AddonNotFoundError,
    ApiError,
    ClusterNotFoundError,
    CredentialsError,
    EksAddonError,
    EndpointUnreachableError,
    EnvironmentProblemError,
    InvalidParameterError,
    ServiceError,
    ThrottledError,
    UpdateInProgressError,
)
from eksaddon.gateways.protocols import (
    AddonRequest,
    AddonState,
    CatalogueEntry,
    ClusterInfo,
    HealthIssue,
    NodegroupInfo,
    UpdateError,
    UpdateState,
)
from eksaddon.gateways.timeouts import request_timeouts
from eksaddon.versions import AddonVersion, KubernetesVersion

T = TypeVar("T")

# Standard mode retries throttling and 5xx with exponential backoff and a retry quota; 8 attempts
# in all ride out a burst of throttling without hiding a real outage for minutes.
RETRY_ATTEMPTS = 8
_THROTTLING = {
    "ThrottlingException",
    "Throttling",
    "TooManyRequestsException",
    "RequestLimitExceeded",
}


class AwsEksGateway:
    """:class:`~eksaddon.gateways.protocols.EksGateway` over boto3."""

    def __init__(
        self,
        *,
        profile: str | None = None,
        region: str | None = None,
        role_arn: str | None = None,
        max_attempts: int = RETRY_ATTEMPTS,
        max_connections: int = 10,
    ) -> None:
        with _translated("create the EKS client", subject="AWS"):
            session = boto3.Session(profile_name=profile, region_name=region)
            if role_arn is not None:
                session = _assumed(session, role_arn, region)
            if session.region_name is None:
                raise EnvironmentProblemError(
                    "no AWS region is configured",
                    hint="pass --region or set AWS_REGION (or a region in your AWS profile)",
                )
            self._region: str = session.region_name
            timeouts = request_timeouts()
            config = botocore.config.Config(
                # total_max_attempts counts the first try too (max_attempts would count retries).
                retries={"mode": "standard", "total_max_attempts": max_attempts},
                connect_timeout=timeouts.connect,
                read_timeout=timeouts.read,
                # One connection per concurrent caller: a fleet check shares this client
                # across its workers, and a short pool would reconnect (TLS) on every call.
                max_pool_connections=max_connections,
                user_agent_extra="eksaddon",
            )
            self._client: Any = session.client("eks", config=config)

    @property
    def region(self) -> str:
        return self._region

    def _call(self, operation: str, *, subject: str, **params: Any) -> dict[str, Any]:
        with _translated(operation, subject=subject):
            result: dict[str, Any] = getattr(self._client, _snake(operation))(**params)
            return result

    def list_clusters(self) -> list[str]:
        with _translated("ListClusters", subject=f"the clusters in {self._region}"):
            pages = self._client.get_paginator("list_clusters").paginate()
            return sorted(name for page in pages for name in page.get("clusters", []))

    def describe_cluster(self, cluster: str) -> ClusterInfo:
        data = self._call("DescribeCluster", subject=f"cluster {cluster}", name=cluster)["cluster"]
        return ClusterInfo(
            name=data["name"],
            version=KubernetesVersion.parse(data["version"]),
            platform_version=data.get("platformVersion"),
            status=data.get("status"),
            region=self._region,
            endpoint=data.get("endpoint"),
            arn=data.get("arn"),
        )

    def describe_addon(self, cluster: str, addon: str) -> AddonState | None:
        try:
            data = self._call(
                "DescribeAddon",
                subject=f"{addon} on cluster {cluster}",
                clusterName=cluster,
                addonName=addon,
            )
        except AddonNotFoundError:
            return None
        return _addon_state(data["addon"])

    def addon_versions(self, addon: str, kubernetes: KubernetesVersion) -> list[CatalogueEntry]:
        found: dict[AddonVersion, bool] = {}
        with _translated("DescribeAddonVersions", subject=f"the {addon} catalogue"):
            pages = self._client.get_paginator("describe_addon_versions").paginate(
                addonName=addon, kubernetesVersion=str(kubernetes)
            )
            for page in pages:
                for entry in _catalogue_entries(page, addon, kubernetes):
                    found[entry.version] = found.get(entry.version, False) or entry.default
        # The API's order is not a contract: sort ourselves, newest first.
        return [CatalogueEntry(v, found[v]) for v in sorted(found, reverse=True)]

    def configuration_schema(self, addon: str, version: AddonVersion) -> dict[str, Any] | None:
        data = self._call(
            "DescribeAddonConfiguration",
            subject=f"{addon} {version}",
            addonName=addon,
            addonVersion=str(version),
        )
        text = data.get("configurationSchema")
        if not text:
            return None
        try:
            schema = json.loads(text)
        except ValueError:
            raise ServiceError(
                f"EKS returned a configuration schema for {addon} {version} that is not JSON"
            ) from None
        return schema if isinstance(schema, dict) else None

    def create_addon(self, request: AddonRequest) -> AddonState:
        data = self._call(
            "CreateAddon",
            subject=f"{request.addon} on cluster {request.cluster}",
            **_request_params(request),
        )
        return _addon_state(data["addon"])

    def update_addon(self, request: AddonRequest) -> UpdateState:
        data = self._call(
            "UpdateAddon",
            subject=f"{request.addon} on cluster {request.cluster}",
            **_request_params(request),
        )
        return _update_state(data["update"])

    def describe_update(self, cluster: str, addon: str, update_id: str) -> UpdateState:
        data = self._call(
            "DescribeUpdate",
            subject=f"update {update_id} of {addon} on cluster {cluster}",
            name=cluster,
            addonName=addon,
            updateId=update_id,
        )
        return _update_state(data["update"])

    def nodegroups(self, cluster: str) -> list[NodegroupInfo]:
        groups = []
        with _translated("ListNodegroups", subject=f"cluster {cluster}"):
            names = [
                name
                for page in self._client.get_paginator("list_nodegroups").paginate(
                    clusterName=cluster
                )
                for name in page.get("nodegroups", [])
            ]
        for name in sorted(names):
            data = self._call(
                "DescribeNodegroup",
                subject=f"node group {name} of cluster {cluster}",
                clusterName=cluster,
                nodegroupName=name,
            )["nodegroup"]
            groups.append(
                NodegroupInfo(
                    name, data.get("version"), data.get("releaseVersion"), data.get("status")
                )
            )
        return groups

    def fargate_profiles(self, cluster: str) -> list[str]:
        with _translated("ListFargateProfiles", subject=f"cluster {cluster}"):
            pages = self._client.get_paginator("list_fargate_profiles").paginate(
                clusterName=cluster
            )
            return sorted(name for page in pages for name in page.get("fargateProfileNames", []))


def _assumed(session: Any, role_arn: str, region: str | None) -> Any:
    """A session with the role's temporary credentials (fleets span accounts)."""
    with _translated("AssumeRole", subject=f"role {role_arn}"):
        credentials = session.client("sts").assume_role(
            RoleArn=role_arn, RoleSessionName="eksaddon"
        )["Credentials"]
    return boto3.Session(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
        region_name=region or session.region_name,
    )


def _snake(operation: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in operation).lstrip("_")


def _request_params(request: AddonRequest) -> dict[str, Any]:
    params: dict[str, Any] = {
        "clusterName": request.cluster,
        "addonName": request.addon,
        "addonVersion": str(request.version),
        "resolveConflicts": request.resolve_conflicts,
        "clientRequestToken": request.client_request_token,
    }
    if request.configuration_values is not None:
        params["configurationValues"] = request.configuration_values
    if request.service_account_role_arn is not None:
        params["serviceAccountRoleArn"] = request.service_account_role_arn
    return params


def _catalogue_entries(
    page: dict[str, Any], addon: str, kubernetes: KubernetesVersion
) -> Iterator[CatalogueEntry]:
    for info in page.get("addons", []):
        if info.get("addonName") != addon:
            continue
        for entry in info.get("addonVersions", []):
            # Match the cluster version instead of trusting compatibilities[0]: one build can carry
            # entries for several Kubernetes versions, each with its own defaultVersion.
            matching = [
                c
                for c in entry.get("compatibilities", [])
                if c.get("clusterVersion") == str(kubernetes)
            ]
            if not matching:
                continue
            try:
                version = AddonVersion.parse(entry.get("addonVersion"))
            except EksAddonError:  # a build string we cannot read is not one we can plan with
                continue
            yield CatalogueEntry(version, any(c.get("defaultVersion") for c in matching))


def _addon_state(data: dict[str, Any]) -> AddonState:
    issues = tuple(
        HealthIssue(i.get("code", "Unknown"), i.get("message", ""), tuple(i.get("resourceIds", [])))
        for i in (data.get("health") or {}).get("issues", [])
    )
    return AddonState(
        name=data["addonName"],
        cluster=data["clusterName"],
        version=AddonVersion.parse(data["addonVersion"]),
        status=data.get("status", "UNKNOWN"),
        issues=issues,
        configuration_values=data.get("configurationValues") or None,
        service_account_role_arn=data.get("serviceAccountRoleArn"),
        arn=data.get("addonArn"),
    )


def _update_state(data: dict[str, Any]) -> UpdateState:
    errors = tuple(
        UpdateError(
            e.get("errorCode", "Unknown"),
            e.get("errorMessage", ""),
            tuple(e.get("resourceIds", [])),
        )
        for e in data.get("errors", [])
    )
    return UpdateState(data["id"], data.get("status", "Unknown"), data.get("type"), errors)


@contextmanager
def _translated(operation: str, *, subject: str) -> Iterator[None]:
    """Turn any botocore/boto3 exception raised inside into an eksaddon error."""
    try:
        yield
    except botocore.exceptions.ClientError as error:
        raise _client_error(error, operation, subject) from error
    except (
        botocore.exceptions.NoCredentialsError,
        botocore.exceptions.PartialCredentialsError,
        botocore.exceptions.TokenRetrievalError,
        botocore.exceptions.SSOError,
    ) as error:
        raise CredentialsError(
            f"no usable AWS credentials for {operation} on {subject}: {_first_line(error)}",
            hint="pass --profile, run `aws sso login`, or set AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY",
        ) from error
    except botocore.exceptions.ProfileNotFound as error:
        raise CredentialsError(
            f"{_first_line(error)}", hint="check --profile against ~/.aws/config"
        ) from error
    except (
        botocore.exceptions.EndpointConnectionError,
        botocore.exceptions.ConnectionError,
        botocore.exceptions.ReadTimeoutError,
        # A connection reset or closed mid-answer (ConnectionClosedError and kin): worth retrying
        # like an unreachable endpoint, not a failure of the operation itself.
        botocore.exceptions.HTTPClientError,
    ) as error:
        raise EndpointUnreachableError(
            f"cannot reach the EKS endpoint for {operation} on {subject}: {_first_line(error)}",
            hint="check the network, --region and AWS_ENDPOINT_URL_EKS",
        ) from error
    except botocore.exceptions.NoRegionError as error:
        raise EnvironmentProblemError(
            "no AWS region is configured", hint="pass --region or set AWS_REGION"
        ) from error
    except botocore.exceptions.BotoCoreError as error:
        raise ApiError(f"{operation} on {subject} failed: {_first_line(error)}") from error
    except EksAddonError:
        raise
    except Exception as error:
        # Only the SDK call runs in here, and botocore's credential providers can raise plain
        # ValueErrors (a malformed AWS_CONTAINER_CREDENTIALS_FULL_URI, say): none may escape.
        raise ApiError(
            f"{operation} on {subject} failed inside the AWS SDK: {type(error).__name__}: "
            f"{_first_line(error)}"
        ) from error


def _client_error(error: botocore.exceptions.ClientError, operation: str, subject: str) -> ApiError:
    details = error.response.get("Error", {})
    code = str(details.get("Code", "Unknown"))
    message = str(details.get("Message", "")) or code
    status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
    factory = _ERRORS.get(code)
    if factory is not None:
        return factory(operation, subject, message)
    if code in _THROTTLING or status == 429:
        return ThrottledError(
            f"EKS kept throttling {operation} on {subject} after retrying ({code}: {message})",
            hint="rerun later, or lower concurrency",
        )
    if status >= 500 or code in ("ServerException", "ServiceUnavailableException"):
        return ServiceError(
            f"EKS failed {operation} on {subject}: {code}: {message}",
            hint="retry later; AWS Health may show an ongoing event",
        )
    return ApiError(f"{operation} on {subject} failed: {code}: {message}")


def _not_found(operation: str, subject: str, message: str) -> ApiError:
    if (
        operation in ("DescribeAddon", "DescribeUpdate", "UpdateAddon")
        and "addon" in message.lower()
    ):
        return AddonNotFoundError(
            f"{subject}: {message}", hint="run `eksaddon status` to see what is installed"
        )
    return ClusterNotFoundError(
        f"{subject}: {message}",
        hint="check the cluster name and --region (or --profile for another account)",
    )


def _access_denied(operation: str, subject: str, message: str) -> ApiError:
    service = "sts" if operation == "AssumeRole" else "eks"
    return AccessDeniedError(
        f"access denied to {service}:{operation} on {subject}: {message}",
        hint=f"grant {service}:{operation} to the caller (see docs/iam.md)",
    )


def _in_use(operation: str, subject: str, message: str) -> ApiError:
    return UpdateInProgressError(
        f"{operation} refused for {subject}: another update is in progress ({message})",
        hint="wait for it to finish (eksaddon status), then rerun",
    )


def _invalid(operation: str, subject: str, message: str) -> ApiError:
    return InvalidParameterError(f"EKS refused {operation} for {subject}: {message}")


_ERRORS: dict[str, Callable[[str, str, str], ApiError]] = {
    "ResourceNotFoundException": _not_found,
    "AccessDeniedException": _access_denied,
    "UnauthorizedOperation": _access_denied,
    "ResourceInUseException": _in_use,
    "InvalidParameterException": _invalid,
    "InvalidRequestException": _invalid,
    "UnrecognizedClientException": lambda op, subject, message: CredentialsError(
        f"AWS rejected the credentials for {op} on {subject}: {message}",
        hint="check the access key, or refresh the session (aws sso login)",
    ),
    "ExpiredTokenException": lambda op, subject, message: CredentialsError(
        f"the AWS session expired during {op} on {subject}: {message}",
        hint="refresh the credentials (aws sso login) and rerun",
    ),
}


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
