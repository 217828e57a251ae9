"""The error tree and the exit-code contract.

Every error eksaddon raises on purpose is an :class:`EksAddonError`. The CLI's single error
boundary (``eksaddon.cli.boundary``) turns one into its exit code and one line on stderr; anything
else is a bug and becomes exit 3 with a hint to rerun with ``--debug``.
"""

from __future__ import annotations

from enum import IntEnum
from pathlib import Path


class ExitCode(IntEnum):
    """The documented exit codes (docs/exit-codes.md). CI pipelines rely on them: never renumber."""

    OK = 0
    CHECK_FAILED = 1
    USAGE = 2
    ENVIRONMENT = 3
    UPGRADE_STOPPED = 4
    INTERRUPTED = 130


class EksAddonError(Exception):
    """Base of every error eksaddon raises deliberately.

    ``hint`` is the next step for the operator; it is appended to the one-line message.
    """

    exit_code: ExitCode = ExitCode.ENVIRONMENT

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def one_line(self) -> str:
        """The single line printed on stderr: the problem, then what to do about it."""
        message = self.message.rstrip(" .") if self.hint else self.message
        text = message if not self.hint else f"{message}; {self.hint}"
        return " ".join(text.split())


class InputError(EksAddonError):
    """Bad input from the operator: flags, versions, files. Exit 2."""

    exit_code = ExitCode.USAGE


class InvalidVersionError(InputError):
    """A version string that does not parse."""


class UnknownKubernetesVersionError(InputError):
    """A Kubernetes version the matrix does not cover."""


class MatrixError(InputError):
    """A matrix file that cannot be read or does not validate."""


class InputFileError(InputError):
    """A DaemonSet backup or other input file that cannot be used."""


class NoLegalPathError(InputError):
    """The planner found no path that EKS and the upgrade policy allow."""


class TargetNotOfferedError(NoLegalPathError):
    """The requested target is not offered for the cluster's Kubernetes version."""


class GateRefusedError(EksAddonError):
    """The cluster-upgrade gate has error findings: ``cluster-upgrade`` refuses to start
    (nothing was changed). Exit 1, as ``check-compat`` exits on the same findings."""

    exit_code = ExitCode.CHECK_FAILED


class EnvironmentProblemError(EksAddonError):
    """The environment or an API failed: credentials, network, permissions. Exit 3."""

    exit_code = ExitCode.ENVIRONMENT


class ApiError(EnvironmentProblemError):
    """An AWS or Kubernetes API call failed. ``temporary`` errors are worth retrying."""

    temporary = False


class ClusterNotFoundError(ApiError):
    pass


class AddonNotFoundError(ApiError):
    pass


class AccessDeniedError(ApiError):
    pass


class UpdateInProgressError(ApiError):
    """EKS refused because another update of the add-on is running (ResourceInUseException)."""

    temporary = True


class InvalidParameterError(ApiError):
    """EKS refused the request's parameters; the message is AWS's own."""


class InsightsBlockedError(ApiError):
    """EKS refused a control-plane update because upgrade insights fail (InvalidStateException
    on UpdateClusterVersion); the message is AWS's own. Nothing was changed."""


class CredentialsError(ApiError):
    pass


class UnexpectedAnswerError(ApiError):
    """An AWS or Kubernetes answer that does not fit the API's model: a field absent, null, of
    another type, or an enum value eksaddon does not know. Not temporary: asking again gets the
    same answer. Before any change it is exit 3; the engines turn it into exit 4 after one.
    """

    def __init__(
        self,
        source: str,
        field: str,
        value: str,
        *,
        hint: str | None = None,
        context: str | None = None,
    ) -> None:
        after = f" ({context})" if context else ""
        super().__init__(
            f"{source} answered something eksaddon does not understand: {field}: {value}{after}",
            hint=hint,
        )
        self.source = source
        self.field = field
        self.value = value


class EndpointUnreachableError(ApiError):
    temporary = True


class ThrottledError(ApiError):
    temporary = True


class ServiceError(ApiError):
    """A 5xx from the service."""

    temporary = True


class UpgradeStoppedError(EksAddonError):
    """An upgrade stopped part-way; its journal is kept so a rerun resumes. Exit 4."""

    exit_code = ExitCode.UPGRADE_STOPPED


class UpgradeInterruptedError(EksAddonError):
    """Ctrl-C or SIGTERM during an upgrade; the journal says where to resume. Exit 130."""

    exit_code = ExitCode.INTERRUPTED


class JournalMismatchError(InputError):
    """A journal whose plan no longer matches the cluster."""


class UnsafeStateFileError(InputError):
    """A journal, backup or lock path that is a symlink, not a regular file, or not the user's:
    refused, never followed or overwritten. Exit 2 (4 once a run has changed something)."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(
            f"refusing to use {path}: {reason}",
            hint="eksaddon never follows or overwrites such a file; move it aside (for a "
            "journal: rerun with --discard-journal, which moves it aside and plans afresh)",
        )
        self.path = path


class StateDirectoryError(EnvironmentProblemError):
    """The state directory cannot be written (read-only, full, gone). Exit 3 before any change;
    the engines turn it into exit 4 once something was sent."""

    def __init__(self, directory: Path, error: OSError) -> None:
        reason = error.strerror or str(error) or type(error).__name__
        super().__init__(
            f"cannot write the state directory {directory}: {reason}",
            hint="free space or pass --state-dir",
        )
        self.directory = directory


class RunInProgressError(EnvironmentProblemError):
    """Another eksaddon run on this machine holds the lock for the same cluster and add-on."""


class KubernetesForbiddenError(ApiError):
    """RBAC refused a verb on a resource."""


class KubernetesNotFoundError(ApiError):
    pass


class KubernetesUnauthorizedError(ApiError):
    pass


class KubernetesUnreachableError(ApiError):
    temporary = True


class KubernetesServerError(ApiError):
    """A 5xx or 429 from the Kubernetes API server: worth retrying."""

    temporary = True
