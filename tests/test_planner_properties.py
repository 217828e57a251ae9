"""Planner invariants over generated matrices (hypothesis).

The generator builds catalogues with gaps, several Kubernetes versions, strides of one or two
minors and an optional stepping-stone gate, then checks what must hold for every answer: a plan is
a legal chain, or the refusal names a step that really is missing.
"""

from __future__ import annotations

import itertools
from typing import Any

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from eksaddon.errors import NoLegalPathError
from eksaddon.matrix import AddonType, Matrix
from eksaddon.matrix.loader import build_matrix
from eksaddon.planner import plan
from eksaddon.versions import AddonVersion, KubernetesVersion

KUBERNETES = ["1.28", "1.29"]
MINORS = range(9)


@st.composite
def matrices(draw: st.DrawFn, max_minor_steps: st.SearchStrategy[int] | None = None) -> Matrix:
    """A generated matrix; ``max_minor_steps`` draws its policy's step limit (default 1, 1 or 2:
    a test about one policy draws only that one instead of discarding the others)."""
    builds: dict[str, list[str]] = {}
    for minor in MINORS:
        for patch in range(draw(st.integers(0, 2))):
            for build in range(1, draw(st.integers(1, 3)) + 1):
                offered = draw(st.lists(st.sampled_from(KUBERNETES), unique=True, max_size=2))
                builds[f"v1.{minor}.{patch}-eksbuild.{build}"] = offered
    for kubernetes in KUBERNETES:  # every Kubernetes version needs at least one build
        if not any(kubernetes in offered for offered in builds.values()):
            builds.setdefault("v1.8.9-eksbuild.1", []).append(kubernetes)
    parsed = {AddonVersion.parse(v): k for v, k in builds.items()}
    latest = {k: max(v for v, offered in parsed.items() if k in offered) for k in KUBERNETES}
    gate = draw(st.booleans())
    raw: dict[str, Any] = {
        "format_version": 1,
        "addon": "generated",
        "kubernetes_versions": {
            k: {"latest": str(latest[k]), "catalogue_complete": True} for k in KUBERNETES
        },
        "builds": [{"version": v, "kubernetes_versions": k} for v, k in builds.items()],
        "self_managed": {
            "releases": [{"version": f"v1.{m}.0"} for m in MINORS if draw(st.booleans())]
        },
        "upgrade_policy": {
            "max_minor_step": draw(
                st.sampled_from([1, 1, 2]) if max_minor_steps is None else max_minor_steps
            ),
            "gates": [
                {
                    "id": "gate",
                    "target_at_least": "v1.6.0",
                    "requires_current_at_least": "v1.3.0",
                    "reason": "generated",
                }
            ]
            if gate
            else [],
        },
    }
    return build_matrix(raw, label="generated")


def versions_of(minors: list[int]) -> st.SearchStrategy[AddonVersion]:
    """Versions (a build or a plain release) of one of these minors, as ``versions`` draws."""
    return st.builds(
        AddonVersion,
        st.just(1),
        st.sampled_from(minors),
        st.integers(0, 2),
        st.none() | st.integers(1, 3),
    )


versions = versions_of(list(MINORS))
kinds = st.sampled_from(list(AddonType))
kubernetes_versions = st.sampled_from(KUBERNETES).map(KubernetesVersion.parse)

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(matrices(), kubernetes_versions, versions, kinds, st.data())
def test_every_plan_is_a_legal_chain_or_a_justified_refusal(
    matrix: Matrix,
    kubernetes: KubernetesVersion,
    current: AddonVersion,
    kind: AddonType,
    data: st.DataObject,
) -> None:
    candidates = matrix.candidates(kind, kubernetes)
    assume(candidates)
    target = data.draw(st.sampled_from(candidates))
    try:
        result = plan(
            matrix, kubernetes=kubernetes, current=current, target=str(target), addon_type=kind
        )
    except NoLegalPathError as error:
        _assert_refusal_is_justified(matrix, candidates, current, target, error)
        return
    steps = result.steps
    assert result.target == target
    assert (len(steps) == 0) == (current == target)
    if steps:
        assert steps[0].source == current and steps[-1].target == target
    for before, after in itertools.pairwise(steps):
        assert before.target == after.source
    upward = target > current
    step_limit = matrix.policy.max_minor_step
    assert step_limit is not None  # vpc-cni's policy is minor-steps
    for step in steps:
        assert step.source.minor_distance(step.target) <= step_limit
        assert step.target in candidates
        assert (step.target > step.source) if upward else (step.target < step.source)
        for gate in matrix.policy.gates:
            assert not (
                step.source < gate.requires_current_at_least and step.target >= gate.target_at_least
            )
    for step in steps[:-1]:  # intermediate stops are the newest build of their minor
        same_minor = [c for c in candidates if c.minor_line == step.target.minor_line]
        assert step.target == max(same_minor)


@SETTINGS
@given(matrices(max_minor_steps=st.just(1)), kubernetes_versions, versions, st.data())
def test_one_minor_policy_uses_exactly_one_step_per_minor(
    matrix: Matrix, kubernetes: KubernetesVersion, current: AddonVersion, data: st.DataObject
) -> None:
    assert matrix.policy.max_minor_step == 1
    candidates = matrix.candidates(AddonType.MANAGED, kubernetes)
    target = data.draw(st.sampled_from(candidates))
    try:
        result = plan(
            matrix,
            kubernetes=kubernetes,
            current=current,
            target=str(target),
            addon_type=AddonType.MANAGED,
        )
    except NoLegalPathError:
        return
    distance = current.minor_distance(target)
    assert len(result.steps) == (distance if distance else int(current != target))


def minors_with_a_full_catalogue_to(target: AddonVersion, offered: set[int]) -> list[int]:
    """The minors from which every minor strictly between them and ``target``'s is offered."""
    return [
        minor
        for minor in MINORS
        if all(m in offered for m in range(min(minor, target.minor) + 1, max(minor, target.minor)))
    ]


@SETTINGS
@given(matrices(), kubernetes_versions, st.data())
def test_a_full_catalogue_always_yields_a_plan(
    matrix: Matrix, kubernetes: KubernetesVersion, data: st.DataObject
) -> None:
    candidates = matrix.candidates(AddonType.MANAGED, kubernetes)
    target = data.draw(st.sampled_from(candidates))
    # The current version is drawn among those with nothing missing on the way to the target
    # (as ``versions`` would draw them, without discarding the others: a minor next to the
    # target's, or the target's own, always qualifies).
    offered = {c.minor for c in candidates}
    current = data.draw(versions_of(minors_with_a_full_catalogue_to(target, offered)))
    low, high = sorted((current.minor, target.minor))
    assert all(any(c.minor == m for c in candidates) for m in range(low + 1, high))
    result = plan(
        matrix,
        kubernetes=kubernetes,
        current=current,
        target=str(target),
        addon_type=AddonType.MANAGED,
    )
    assert result.target == target


def _assert_refusal_is_justified(
    matrix: Matrix,
    candidates: list[AddonVersion],
    current: AddonVersion,
    target: AddonVersion,
    error: NoLegalPathError,
) -> None:
    """A refusal must name a minor strictly between current and target with nothing offered."""
    message = error.message
    assert "the step to v1." in message
    missing = int(message.split("the step to v1.")[1].split(" ")[0])
    low, high = sorted((current.minor, target.minor))
    assert low < missing < high
    assert not any(c.minor == missing for c in candidates)
