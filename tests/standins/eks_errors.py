"""The EKS errors the stand-in answers with (serialised by moto through botocore's model: the
HTTP status and the error members come from it)."""

from __future__ import annotations

import base64
import binascii

from moto.core.exceptions import ServiceException


class EksServiceError(ServiceException):
    code = "ServerException"

    def __init__(
        self, message: str, *, cluster_name: str | None = None, addon_name: str | None = None
    ) -> None:
        super().__init__(message)
        if cluster_name is not None:
            self.clusterName = cluster_name
        if addon_name is not None:
            self.addonName = addon_name


class InvalidParameterError(EksServiceError):
    code = "InvalidParameterException"


class ResourceNotFoundError(EksServiceError):
    code = "ResourceNotFoundException"


class ResourceInUseError(EksServiceError):
    code = "ResourceInUseException"


class InvalidStateError(EksServiceError):
    code = "InvalidStateException"


class InvalidRequestError(EksServiceError):
    code = "InvalidRequestException"


def encode_token(offset: int) -> str:
    return base64.urlsafe_b64encode(f"standin:{offset}".encode()).decode()


def decode_token(token: str | None) -> int:
    if not token:
        return 0
    try:
        prefix, _, offset = base64.urlsafe_b64decode(token.encode()).decode().partition(":")
        if prefix != "standin":
            raise ValueError(prefix)
        return int(offset)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise InvalidParameterError("The nextToken is not valid") from None
