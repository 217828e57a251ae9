"""Reading EKS answers into the records of :mod:`eksaddon.gateways.protocols`, each field through
:class:`~eksaddon.gateways.answers.Answer` (absent, null, another type: a misfit naming it)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timezone

from eksaddon.errors import EksAddonError, UnexpectedAnswerError
from eksaddon.gateways.answers import Answer
from eksaddon.gateways.protocols import (
    AddonCompatibilityDetail,
    AddonState,
    CatalogueEntry,
    ClientStat,
    DeprecationDetail,
    HealthIssue,
    InsightDetail,
    InsightResource,
    InsightSummary,
    PodIdentityConfiguration,
    UpdateError,
    UpdateState,
)
from eksaddon.versions import AddonVersion, KubernetesVersion


def catalogue_entries(
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


def same(data: Answer, key: str, expected: str) -> None:
    """An answer about another cluster or add-on than the one asked for is not this one's."""
    if data.text(key) != expected:
        raise data.misfit(f"{data.path}.{key}", data.text(key))


def kubernetes_version(data: Answer) -> KubernetesVersion:
    text = data.text("version")
    try:
        return KubernetesVersion.parse(text)
    except EksAddonError:
        raise data.misfit(f"{data.path}.version", text) from None


def health_issues(data: Answer) -> tuple[HealthIssue, ...]:
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


def addon_state(data: Answer, cluster: str, addon: str) -> AddonState:
    same(data, "addonName", addon)
    same(data, "clusterName", cluster)
    issues = health_issues(data)
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
        # Identifiers only shown (status); absent or null is none.
        pod_identity_associations=tuple(data.texts("podIdentityAssociations")),
    )


def update_state(data: Answer) -> UpdateState:
    errors = tuple(
        UpdateError(
            e.shown_text("errorCode") or "Unknown",
            e.shown_text("errorMessage") or "",
            tuple(e.texts("resourceIds")),
        )
        for e in data.children("errors")
    )
    return UpdateState(data.text("id"), data.text("status"), data.shown_text("type"), errors)


def after_a_change(
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


# --- insights ------------------------------------------------------------------------------------


def _when(data: Answer, key: str) -> str | None:
    """A timestamp (botocore parsed it: the shape check let only timestamps through) as ISO 8601
    in UTC, or None when absent."""
    value = data.optional(key, datetime)
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def insight_summary(data: Answer) -> InsightSummary:
    """An InsightSummary or Insight: id, name and status are needed to act on it; the status and
    category are carried as text (a value outside the model's is shown, never read as known)."""
    status = data.child("insightStatus")
    return InsightSummary(
        id=data.text("id"),
        name=data.text("name"),
        category=data.text("category"),
        status=status.text("status"),
        reason=status.shown_text("reason"),
        kubernetes_version=data.optional_text("kubernetesVersion"),
        last_refresh=_when(data, "lastRefreshTime"),
        last_transition=_when(data, "lastTransitionTime"),
        description=data.shown_text("description"),
    )


def insight_detail(data: Answer) -> InsightDetail:
    specific = data.optional_child("categorySpecificSummary")
    return InsightDetail(
        summary=insight_summary(data),
        recommendation=data.shown_text("recommendation"),
        additional_info=tuple(data.text_map("additionalInfo").items()),
        resources=tuple(_resource(r) for r in data.children("resources")),
        deprecations=tuple(
            _deprecation(d) for d in (specific.children("deprecationDetails") if specific else [])
        ),
        addon_compatibility=tuple(
            AddonCompatibilityDetail(c.text("name"), tuple(c.texts("compatibleVersions")))
            for c in (specific.children("addonCompatibilityDetails") if specific else [])
        ),
    )


def _resource(data: Answer) -> InsightResource:
    status = data.optional_child("insightStatus")
    return InsightResource(
        status=status.shown_text("status") if status is not None else None,
        kubernetes_resource_uri=data.shown_text("kubernetesResourceUri"),
        arn=data.shown_text("arn"),
    )


def _deprecation(data: Answer) -> DeprecationDetail:
    return DeprecationDetail(
        usage=data.text("usage"),
        replaced_with=data.shown_text("replacedWith"),
        stop_serving_version=data.shown_text("stopServingVersion"),
        start_serving_replacement_version=data.shown_text("startServingReplacementVersion"),
        clients=tuple(
            ClientStat(
                c.text("userAgent"),
                c.optional("numberOfRequestsLast30Days", int),
                _when(c, "lastRequestTime"),
            )
            for c in data.children("clientStats")
        ),
    )


def pod_identity_configuration(data: Answer) -> tuple[PodIdentityConfiguration, ...]:
    """DescribeAddonConfiguration's podIdentityConfiguration: absent or null is none."""
    return tuple(
        PodIdentityConfiguration(
            p.text("serviceAccount"), tuple(p.texts("recommendedManagedPolicies"))
        )
        for p in data.children("podIdentityConfiguration")
    )
