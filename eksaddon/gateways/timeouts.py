"""How long one API request may take, for EKS and Kubernetes alike (no SDK imported here).

A request that hangs (a half-open connection, an overloaded API server) must fail and be retried,
not hold an upgrade step past its deadline: every request has a connect and a read timeout.
``$EKSADDON_API_TIMEOUT`` (seconds) sets the read timeout; the connect timeout is the smaller of
it and 10 s.
"""

from __future__ import annotations

import math
import os
from typing import NamedTuple

from eksaddon.errors import InputError

ENV_API_TIMEOUT = "EKSADDON_API_TIMEOUT"
DEFAULT_READ_TIMEOUT = 30.0
MAX_CONNECT_TIMEOUT = 10.0


class RequestTimeouts(NamedTuple):
    connect: float
    read: float


def request_timeouts() -> RequestTimeouts:
    text = os.environ.get(ENV_API_TIMEOUT, "").strip()
    if not text:
        return RequestTimeouts(MAX_CONNECT_TIMEOUT, DEFAULT_READ_TIMEOUT)
    try:
        seconds = float(text)
    except ValueError:
        seconds = math.nan
    if not math.isfinite(seconds) or not 0.1 <= seconds <= 3600:
        raise InputError(
            f"{ENV_API_TIMEOUT}={text!r} is not a number of seconds between 0.1 and 3600",
            hint=f"set {ENV_API_TIMEOUT} to, say, 30, or unset it",
        )
    return RequestTimeouts(min(seconds, MAX_CONNECT_TIMEOUT), seconds)
