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
from types import TracebackType
from typing import Any, TypeVar

import boto3
import botocore.config
import botocore.exceptions
import botocore.utils

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
    UnexpectedAnswerError,
    UpdateInProgressError,
)
from eksaddon.gateways.answers import Answer, shown
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
from eksaddon.textsafety import register_secret
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
# A listing longer than this is an endpoint that never stops answering "there is more".
MAX_PAGES = 1000


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
            self._session = session
            events = self._client.meta.events
            # Each request's credentials are remembered for redaction when they sign it, so no
            # credential lookup happens that the SDK would not make anyway (and refreshed
            # credentials are remembered too).
            events.register("before-sign.eks", self._remember_credentials)
            events.register("before-parse.eks", _check_answer_shape)

    def _remember_credentials(self, **_: Any) -> None:
        _register_credentials(self._session.get_credentials())

    @property
    def region(self) -> str:
        return self._region

    def _call(self, operation: str, *, subject: str, **params: Any) -> dict[str, Any]:
        with _translated(operation, subject=subject):
            result: dict[str, Any] = getattr(self._client, _snake(operation))(**params)
            return result

    def _pages(self, operation: str, *, subject: str, **params: Any) -> Iterator[Answer]:
        """Every page of a listing, each as an Answer; a listing that never ends is a misfit."""
        with _translated(operation, subject=subject):
            pages = self._client.get_paginator(_snake(operation)).paginate(**params)
            tokens: set[str] = set()
            for number, page in enumerate(pages, start=1):
                answer = Answer(page)
                token = answer.optional_text("nextToken")
                if number >= MAX_PAGES and token:
                    raise answer.misfit(
                        "nextToken", f"still more after {MAX_PAGES} pages of {operation}"
                    )
                if token is not None and token in tokens:
                    raise answer.misfit("nextToken", f"{shown(token)} again")
                tokens.add(token or "")
                yield answer

    def list_clusters(self) -> list[str]:
        subject = f"the clusters in {self._region}"
        return sorted(
            name
            for page in self._pages("ListClusters", subject=subject)
            for name in page.texts("clusters")
        )

    def describe_cluster(self, cluster: str) -> ClusterInfo:
        data = Answer(
            self._call("DescribeCluster", subject=f"cluster {cluster}", name=cluster)
        ).child("cluster")
        _same(data, "name", cluster)
        return ClusterInfo(
            name=cluster,
            version=_kubernetes_version(data),
            platform_version=data.shown_text("platformVersion"),
            status=data.shown_text("status"),
            region=self._region,
            endpoint=data.optional_text("endpoint"),
            arn=data.optional_text("arn"),
            health_issues=_health_issues(data),
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
        return _addon_state(Answer(data).child("addon"), cluster, addon)

    def addon_versions(self, addon: str, kubernetes: KubernetesVersion) -> list[CatalogueEntry]:
        found: dict[AddonVersion, bool] = {}
        pages = self._pages(
            "DescribeAddonVersions",
            subject=f"the {addon} catalogue",
            addonName=addon,
            kubernetesVersion=str(kubernetes),
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
        text = Answer(data).optional_text("configurationSchema")
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
        try:
            return _addon_state(Answer(data).child("addon"), request.cluster, request.addon)
        except UnexpectedAnswerError as error:
            raise _after_a_change(error, "CreateAddon") from error

    def update_addon(self, request: AddonRequest) -> UpdateState:
        data = self._call(
            "UpdateAddon",
            subject=f"{request.addon} on cluster {request.cluster}",
            **_request_params(request),
        )
        try:
            return _update_state(Answer(data).child("update"))
        except UnexpectedAnswerError as error:
            update = data.get("update")
            update_id = update.get("id") if isinstance(update, dict) else None
            raise _after_a_change(
                error, "UpdateAddon", update_id if isinstance(update_id, str) else None
            ) from error

    def describe_update(self, cluster: str, addon: str, update_id: str) -> UpdateState:
        data = self._call(
            "DescribeUpdate",
            subject=f"update {update_id} of {addon} on cluster {cluster}",
            name=cluster,
            addonName=addon,
            updateId=update_id,
        )
        update = _update_state(Answer(data).child("update"))
        if update.id != update_id:
            raise UnexpectedAnswerError(
                "EKS", "update.id", shown(update.id), context=f"asked for {update_id}"
            )
        return update

    def nodegroups(self, cluster: str) -> list[NodegroupInfo]:
        groups = []
        pages = self._pages("ListNodegroups", subject=f"cluster {cluster}", clusterName=cluster)
        names = {name for page in pages for name in page.texts("nodegroups")}
        for name in sorted(names):
            data = Answer(
                self._call(
                    "DescribeNodegroup",
                    subject=f"node group {name} of cluster {cluster}",
                    clusterName=cluster,
                    nodegroupName=name,
                )
            ).child("nodegroup")
            groups.append(
                NodegroupInfo(
                    name,
                    data.shown_text("version"),
                    data.shown_text("releaseVersion"),
                    data.shown_text("status"),
                )
            )
        return groups

    def fargate_profiles(self, cluster: str) -> list[str]:
        pages = self._pages(
            "ListFargateProfiles", subject=f"cluster {cluster}", clusterName=cluster
        )
        return sorted({name for page in pages for name in page.texts("fargateProfileNames")})


def _assumed(session: Any, role_arn: str, region: str | None) -> Any:
    """A session with the role's temporary credentials (fleets span accounts)."""
    with _translated("AssumeRole", subject=f"role {role_arn}"):
        # The same lookup the STS client makes when it is created (the session caches it), so
        # the caller's credentials are remembered before anything can echo them.
        _register_credentials(session.get_credentials())
        answer = Answer(
            session.client("sts").assume_role(RoleArn=role_arn, RoleSessionName="eksaddon"),
            source="STS",
        )
    credentials = answer.child("Credentials")
    keys = [credentials.text(k) for k in ("AccessKeyId", "SecretAccessKey", "SessionToken")]
    for key in keys:
        register_secret(key)
    return boto3.Session(
        aws_access_key_id=keys[0],
        aws_secret_access_key=keys[1],
        aws_session_token=keys[2],
        region_name=region or session.region_name,
    )


def _register_credentials(credentials: Any) -> None:
    """Remember the credentials in use so that no message eksaddon passes on can show them."""
    if credentials is None:
        return
    frozen = credentials.get_frozen_credentials()
    for value in (frozen.access_key, frozen.secret_key, frozen.token):
        register_secret(value)


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
    page: Answer, addon: str, kubernetes: KubernetesVersion
) -> Iterator[CatalogueEntry]:
    for info in page.children("addons"):
        if info.text("addonName") != addon:
            continue
        for entry in info.children("addonVersions"):
            # Match the cluster version instead of trusting compatibilities[0]: one build can carry
            # entries for several Kubernetes versions, each with its own defaultVersion.
            compatibilities = [
                (c.optional_text("clusterVersion"), c.flag("defaultVersion"))
                for c in entry.children("compatibilities")
            ]
            text = entry.text("addonVersion")
            defaults = [
                default for cluster, default in compatibilities if cluster == str(kubernetes)
            ]
            if not defaults:
                continue
            try:
                version = AddonVersion.parse(text)
            except EksAddonError:  # a build string we cannot read is not one we can plan with
                continue
            yield CatalogueEntry(version, any(defaults))


def _same(data: Answer, key: str, expected: str) -> None:
    """An answer about another cluster or add-on than the one asked for is not this one's."""
    if data.text(key) != expected:
        raise data.misfit(f"{data.path}.{key}", data.text(key))


def _kubernetes_version(data: Answer) -> KubernetesVersion:
    text = data.text("version")
    try:
        return KubernetesVersion.parse(text)
    except EksAddonError:
        raise data.misfit(f"{data.path}.version", text) from None


def _health_issues(data: Answer) -> tuple[HealthIssue, ...]:
    """``health.issues`` of a cluster or an add-on (the same shape in botocore's model)."""
    health = data.optional_child("health")
    return tuple(
        HealthIssue(
            i.shown_text("code") or "Unknown",
            i.shown_text("message") or "",
            tuple(i.texts("resourceIds")),
        )
        for i in (health.children("issues") if health is not None else [])
    )


def _addon_state(data: Answer, cluster: str, addon: str) -> AddonState:
    _same(data, "addonName", addon)
    _same(data, "clusterName", cluster)
    issues = _health_issues(data)
    return AddonState(
        name=addon,
        cluster=cluster,
        # As EKS answered it: read-only commands show a build they cannot read, with a warning;
        # AddonState.version refuses it to anything that acts on it.
        reported_version=data.text("addonVersion"),
        status=data.text("status"),
        issues=issues,
        # Both are sent back to EKS on every step: they must be text, or nothing.
        configuration_values=data.optional_text("configurationValues") or None,
        service_account_role_arn=data.optional_text("serviceAccountRoleArn"),
        arn=data.shown_text("addonArn"),
    )


def _update_state(data: Answer) -> UpdateState:
    errors = tuple(
        UpdateError(
            e.shown_text("errorCode") or "Unknown",
            e.shown_text("errorMessage") or "",
            tuple(e.texts("resourceIds")),
        )
        for e in data.children("errors")
    )
    return UpdateState(data.text("id"), data.text("status"), data.shown_text("type"), errors)


def _after_a_change(
    error: UnexpectedAnswerError, operation: str, update_id: str | None = None
) -> UnexpectedAnswerError:
    """The misfit, saying that EKS may have acted: the engines stop part-way (exit 4), and a
    rerun re-sends the same clientRequestToken, which EKS answers with the update it started."""
    started = f"update {update_id}" if update_id else "the change"
    return UnexpectedAnswerError(
        error.source,
        error.field,
        error.value,
        hint=error.hint,
        context=f"after {operation}: EKS may have started {started}",
    )


def _check_answer_shape(operation_model: Any, response_dict: dict[str, Any], **_: Any) -> None:
    """Before botocore parses a successful answer: every object, list and map where the model
    says so, or a misfit naming the field (botocore's parser would raise AttributeError or
    TypeError from deep inside). Scalars are the readers' business (eksaddon.gateways.answers)."""
    status = int(response_dict.get("status_code") or 0)
    shape = operation_model.output_shape
    if not 200 <= status < 300 or shape is None:
        return
    body = response_dict.get("body") or b"{}"
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise UnexpectedAnswerError(
            "EKS", f"the {operation_model.name} answer", shown(bytes(body[:60]).decode("latin-1"))
        ) from None
    misfit = _shape_misfit(shape, document, "")
    if misfit is not None:
        path, value = misfit
        raise UnexpectedAnswerError(
            "EKS", path or f"the {operation_model.name} answer", shown(value)
        )


_SCALARS: dict[str, type | tuple[type, ...]] = {
    "boolean": bool,
    "integer": int,
    "long": int,
    "float": (int, float),
    "double": (int, float),
}


def _shape_misfit(shape: Any, value: object, path: str) -> tuple[str, object] | None:
    """The first (path, value) whose JSON type the model's shape rules out, or None."""
    kind = shape.type_name
    if value is None or getattr(shape, "is_document_type", False):
        return None
    if kind == "timestamp":
        return None if _is_timestamp(value) else (path, value)
    children: list[tuple[Any, object, str]]
    if kind == "structure" and isinstance(value, dict):
        children = [
            (member, value[name], f"{path}.{name}" if path else name)
            for name, member in (
                (m.serialization.get("name", key), m) for key, m in shape.members.items()
            )
            if name in value
        ]
    elif kind == "list" and isinstance(value, list):
        children = [(shape.member, item, f"{path}[{i}]") for i, item in enumerate(value)]
    elif kind == "map" and isinstance(value, dict):
        children = [(shape.value, item, f"{path}.{key}") for key, item in value.items()]
    elif kind in ("structure", "list", "map"):
        return path, value
    elif kind in _SCALARS:
        # botocore would coerce these silently (the text "false" into a boolean, "7" into 7).
        if kind == "boolean":
            fits = isinstance(value, bool)
        else:
            fits = isinstance(value, _SCALARS[kind]) and not isinstance(value, bool)
        return None if fits else (path, value)
    else:
        return None  # strings pass through botocore as they are: the readers check them
    for member, item, where in children:
        found = _shape_misfit(member, item, where)
        if found is not None:
            return found
    return None


def _is_timestamp(value: object) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return False
    try:
        botocore.utils.parse_timestamp(value)
    except Exception:  # ValueError, OverflowError, RuntimeError: all mean "not one"
        return False
    return True


def _raised_in_parser(traceback: TracebackType | None) -> bool:
    while traceback is not None:
        if traceback.tb_frame.f_globals.get("__name__") == "botocore.parsers":
            return True
        traceback = traceback.tb_next
    return False


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
    except botocore.exceptions.PaginationError as error:
        raise UnexpectedAnswerError(
            "EKS", f"nextToken of {operation}", _first_line(error)
        ) from error
    except botocore.exceptions.BotoCoreError as error:
        raise ApiError(f"{operation} on {subject} failed: {_first_line(error)}") from error
    except EksAddonError:
        raise
    except Exception as error:
        if _raised_in_parser(error.__traceback__):
            # An answer botocore could not fit to its own model (a timestamp that is not one).
            raise UnexpectedAnswerError(
                "EKS", f"the {operation} answer", shown(f"{type(error).__name__}: {error}")
            ) from error
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
