"""Checks a matrix file must pass: its schema first, then consistency a schema cannot express.

Every message names the file and the key path, so an operator editing a pinned matrix in CI can go
straight to the line.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from functools import cache
from typing import Any

from eksaddon.errors import MatrixError
from eksaddon.matrix.model import Matrix, PolicyKind
from eksaddon.matrix.schema import MATRIX_SCHEMA

FORMAT_VERSION = 1


@cache
def _validator() -> Any:
    # jsonschema-rs compiles this schema in about a millisecond and imports in a few; the
    # pure-Python validators cost 40-70 ms per run, more than the rest of an offline check together.
    import jsonschema_rs

    return jsonschema_rs.validator_for(MATRIX_SCHEMA)


def check_schema(raw: Any, *, label: str) -> None:
    """Raise :class:`MatrixError` naming ``label`` and the key path if ``raw`` breaks the schema."""
    if not isinstance(raw, dict):
        raise MatrixError(
            f"matrix file {label}: expected a mapping at the top level, found {_kind(raw)}"
        )
    version = raw.get("format_version")
    if version != FORMAT_VERSION:
        # Checked first: a file from a newer eksaddon fails every other rule too, for this reason.
        raise MatrixError(
            f"matrix file {label}: format_version: this eksaddon reads format {FORMAT_VERSION}, "
            f"the file says {version!r}",
            hint="use an eksaddon release that reads this format, or a format 1 matrix",
        )
    problem = _non_json_value(raw)
    if problem is not None:
        raise MatrixError(f"matrix file {label}: {problem}")
    error = next(iter(_validator().iter_errors(raw)), None)
    if error is not None:
        path = ".".join(str(part) for part in error.instance_path) or "(top level)"
        raise MatrixError(f"matrix file {label}: {path}: {_shorten(error.message)}")


def _non_json_value(document: Any) -> str | None:
    """Where YAML produced something JSON has no word for (a date, a number as a key).

    YAML reads ``as_of: 2024-09-12`` as a date and ``1.30:`` as the number 1.3; the schema speaks
    JSON, so name the key and say how to fix it rather than fail inside the validator.
    """
    stack: list[tuple[str, Any]] = [("", document)]
    while stack:
        path, node = stack.pop()
        where = path or "(top level)"
        if isinstance(node, dict):
            for key, value in node.items():
                if not isinstance(key, str):
                    return (
                        f"{where}: the key {key!r} is a {type(key).__name__}, not a string; "
                        'quote versions and dates as written ("1.30", "2024-09-12")'
                    )
                stack.append((f"{path}.{key}" if path else key, value))
        elif isinstance(node, list):
            stack.extend((f"{path}.{index}", value) for index, value in enumerate(node))
        elif not isinstance(node, (str, int, float, bool)) and node is not None:
            shown = node.isoformat() if hasattr(node, "isoformat") else repr(node)
            return f"{where}: {shown} is a {type(node).__name__}; quote it to make it a string"
    return None


def _shorten(message: str) -> str:
    # jsonschema-rs quotes the whole offending value; a 10 MB list must not become the message.
    return message if len(message) <= 300 else message[:297] + "..."


def check_consistency(matrix: Matrix, *, label: str) -> None:
    """Raise :class:`MatrixError` for the first inconsistency found in a schema-valid matrix."""
    problem = next(_problems(matrix), None)
    if problem is not None:
        raise MatrixError(f"matrix file {label}: {problem}")


def _problems(matrix: Matrix) -> Iterator[str]:
    yield from _duplicates("builds", [str(b.version) for b in matrix.builds])
    yield from _duplicates("self_managed.releases", [str(r.version) for r in matrix.releases])
    for build in matrix.builds:
        if not build.version.is_eksbuild:
            yield f"builds: {build.version} is a plain release; EKS builds end in -eksbuild.N"
        for kubernetes in sorted(build.kubernetes_versions):
            if kubernetes not in matrix.kubernetes:
                yield (
                    f"builds: {build.version} is offered for Kubernetes {kubernetes}, "
                    "which has no entry under kubernetes_versions"
                )
        for kubernetes in sorted(build.kubernetes_versions & build.not_offered_for):
            yield (
                f"builds: {build.version} is listed both as offered and as not offered for "
                f"Kubernetes {kubernetes}"
            )
    yield from _kubernetes_problems(matrix)
    yield from _policy_problems(matrix)
    yield from _daemonset_problems(matrix)
    yield from _workload_problems(matrix)


def _duplicates(where: str, versions: list[str]) -> Iterator[str]:
    for version, count in Counter(versions).items():
        if count > 1:
            yield f"{where}: {version} is listed {count} times"


def _kubernetes_problems(matrix: Matrix) -> Iterator[str]:
    for kubernetes, entry in sorted(matrix.kubernetes.items()):
        offered = matrix.builds_for(kubernetes)
        roles = (
            ("latest", entry.latest),
            ("default", entry.default),
            ("complete_through", entry.complete_through),
        )
        for role, version in roles:
            if version is not None and version not in offered:
                yield (
                    f"kubernetes_versions.{kubernetes}.{role}: {version} is not a build "
                    f"offered for Kubernetes {kubernetes} under builds"
                )
        if offered and entry.latest < offered[0]:
            yield (
                f"kubernetes_versions.{kubernetes}.latest: {entry.latest} is older than "
                f"{offered[0]}, which builds offers for Kubernetes {kubernetes}"
            )


def _policy_problems(matrix: Matrix) -> Iterator[str]:
    policy = matrix.policy
    if policy.kind is PolicyKind.MINOR_STEPS and policy.max_minor_step is None:
        yield "upgrade_policy: max_minor_step is required for kind minor-steps (the default)"
    if policy.kind is not PolicyKind.MINOR_STEPS and policy.max_minor_step is not None:
        yield (
            f"upgrade_policy: max_minor_step applies to kind minor-steps only; kind {policy.kind} "
            "has no step limit"
        )
    if (policy.kind is PolicyKind.KUBERNETES_SKEW) != (policy.skew is not None):
        yield "upgrade_policy: skew is required for kind kubernetes-skew, and only for it"
    if policy.kind is PolicyKind.KUBERNETES_SKEW:
        yield from _skew_problems(matrix)
    for gate in policy.gates:
        if not gate.requires_current_at_least < gate.target_at_least:
            yield (
                f"upgrade_policy.gates.{gate.id}: requires_current_at_least must be below "
                "target_at_least"
            )


def _skew_problems(matrix: Matrix) -> Iterator[str]:
    """Under kubernetes-skew the add-on's minor is a Kubernetes minor: builds must fit the rule."""
    skew = matrix.policy.skew
    max_newer = 0 if skew is None else skew.max_newer
    for build in matrix.builds:
        for kubernetes in sorted(build.kubernetes_versions):
            if build.version.major != kubernetes.major:
                yield (
                    f"builds: {build.version} is offered for Kubernetes {kubernetes}; under "
                    "upgrade_policy kind kubernetes-skew the add-on's major.minor is a "
                    "Kubernetes version, so the majors must match"
                )
            elif build.version.minor - kubernetes.minor > max_newer:
                yield (
                    f"builds: {build.version} is offered for Kubernetes {kubernetes}, but "
                    f"upgrade_policy.skew allows at most {max_newer} minor(s) newer than the "
                    "control plane"
                )


def _workload_problems(matrix: Matrix) -> Iterator[str]:
    seen = Counter((w.namespace, w.name, w.kind) for w in matrix.workloads)
    for (namespace, name, kind), count in seen.items():
        if count > 1:
            yield f"workloads: {kind} {namespace}/{name} is listed {count} times"


def _daemonset_problems(matrix: Matrix) -> Iterator[str]:
    spec = matrix.daemonset
    if spec is None:
        return
    if spec.version_container not in spec.containers:
        yield f"daemonset.version_container: {spec.version_container!r} is not under containers"
    for feature in matrix.features.values():
        for detector in feature.detect:
            if detector.container not in spec.containers:
                yield (
                    f"features.{feature.name}.detect: container {detector.container!r} "
                    "is not under daemonset.containers"
                )


def _kind(value: Any) -> str:
    names = {list: "a list", str: "a string", int: "a number", float: "a number"}
    if value is None:
        return "nothing"
    return names.get(type(value), type(value).__name__)
