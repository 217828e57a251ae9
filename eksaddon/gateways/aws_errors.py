"""How the EKS gateway turns every SDK exception into an :mod:`eksaddon.errors` type that names
the cluster or add-on and what to do next (the gateway's one place for it)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import TracebackType

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
    InsightsBlockedError,
    InvalidParameterError,
    ServiceError,
    ThrottledError,
    UnexpectedAnswerError,
    UpdateInProgressError,
)
from eksaddon.gateways.answers import shown

_THROTTLING = {
    "ThrottlingException",
    "Throttling",
    "TooManyRequestsException",
    "RequestLimitExceeded",
}


def _raised_in_parser(traceback: TracebackType | None) -> bool:
    while traceback is not None:
        if traceback.tb_frame.f_globals.get("__name__") == "botocore.parsers":
            return True
        traceback = traceback.tb_next
    return False


@contextmanager
def translated(operation: str, *, subject: str) -> Iterator[None]:
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
            f"no usable AWS credentials for {operation} on {subject}: {first_line(error)}",
            hint="pass --profile, run `aws sso login`, or set AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY",
        ) from error
    except botocore.exceptions.ProfileNotFound as error:
        raise CredentialsError(
            f"{first_line(error)}", hint="check --profile against ~/.aws/config"
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
            f"cannot reach the EKS endpoint for {operation} on {subject}: {first_line(error)}",
            hint="check the network, --region and AWS_ENDPOINT_URL_EKS",
        ) from error
    except botocore.exceptions.NoRegionError as error:
        raise EnvironmentProblemError(
            "no AWS region is configured", hint="pass --region or set AWS_REGION"
        ) from error
    except botocore.exceptions.PaginationError as error:
        raise UnexpectedAnswerError(
            "EKS", f"nextToken of {operation}", first_line(error)
        ) from error
    except botocore.exceptions.BotoCoreError as error:
        raise ApiError(f"{operation} on {subject} failed: {first_line(error)}") from error
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
            f"{first_line(error)}"
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
    if operation == "DescribeInsight" and "insight" in message.lower():
        return _not_found_insight(subject, message)
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


def _invalid_state(operation: str, subject: str, message: str) -> ApiError:
    if operation == "UpdateClusterVersion":
        # Since 2025-03-27 EKS checks upgrade insights first; AWS's text says what to do.
        return InsightsBlockedError(
            f"EKS refused {operation} for {subject}: {message}",
            hint="`eksaddon check-compat --target-kubernetes-version` lists the insights; EKS's "
            "force flag overrides them (`eksaddon cluster-upgrade --force-upgrade-insights`)",
        )
    return ApiError(f"EKS refused {operation} for {subject}: {message}")


def _not_found_insight(subject: str, message: str) -> ApiError:
    return ApiError(
        f"{subject}: {message}", hint="the insight may have been refreshed away; list them again"
    )


_ERRORS: dict[str, Callable[[str, str, str], ApiError]] = {
    "ResourceNotFoundException": _not_found,
    "AccessDeniedException": _access_denied,
    "UnauthorizedOperation": _access_denied,
    "ResourceInUseException": _in_use,
    "InvalidParameterException": _invalid,
    "InvalidRequestException": _invalid,
    "InvalidStateException": _invalid_state,
    "UnrecognizedClientException": lambda op, subject, message: CredentialsError(
        f"AWS rejected the credentials for {op} on {subject}: {message}",
        hint="check the access key, or refresh the session (aws sso login)",
    ),
    "ExpiredTokenException": lambda op, subject, message: CredentialsError(
        f"the AWS session expired during {op} on {subject}: {message}",
        hint="refresh the credentials (aws sso login) and rerun",
    ),
}


def first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
