"""The EKS gateway: the only module that imports boto3.

Credentials come from the standard chain (``--profile``, environment, SSO, instance roles);
``AWS_ENDPOINT_URL`` / ``AWS_ENDPOINT_URL_EKS`` are honoured by botocore itself. Throttling and 5xx
are retried by botocore's standard retry mode. Every SDK exception becomes an :mod:`eksaddon.errors`
type that names the cluster or add-on and what to do next (aws_errors.py); every answer is checked
against the service model's shapes (aws_shape.py) and read into records (aws_answers.py).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import boto3
import botocore.config

from eksaddon.errors import (
    AddonNotFoundError,
    EnvironmentProblemError,
    ServiceError,
    UnexpectedAnswerError,
)
from eksaddon.gateways.answers import Answer, shown
from eksaddon.gateways.aws_answers import (
    addon_state,
    after_a_change,
    catalogue_entries,
    health_issues,
    insight_detail,
    insight_summary,
    kubernetes_version,
    pod_identity_configuration,
    same,
    update_state,
)
from eksaddon.gateways.aws_errors import translated
from eksaddon.gateways.aws_shape import check_answer_shape
from eksaddon.gateways.protocols import (
    AddonRequest,
    AddonState,
    CatalogueEntry,
    ClusterInfo,
    ClusterVersionRequest,
    InsightDetail,
    InsightSummary,
    NodegroupInfo,
    PodIdentityConfiguration,
    UpdateState,
)
from eksaddon.gateways.timeouts import request_timeouts
from eksaddon.textsafety import register_secret
from eksaddon.versions import AddonVersion, KubernetesVersion

# Standard mode retries throttling and 5xx with exponential backoff and a retry quota; 8 attempts
# in all ride out a burst of throttling without hiding a real outage for minutes.
RETRY_ATTEMPTS = 8
# A listing longer than this is an endpoint that never stops answering "there is more".
MAX_PAGES = 1000
# DescribeNodegroup calls of one cluster in flight at once.
NODEGROUP_READS = 8


@dataclass
class Sessions:
    """One boto3 session per profile (and per role assumed from it), shared by the EKS clients of
    every region: a fleet across regions then loads botocore's endpoint and EKS models once per
    profile, not once per region (memory and start-up), and assumes each role once.

    boto3 sessions are not thread-safe: sessions, and clients from them, are made under one lock
    (:func:`_eks_client`); the clients themselves are thread-safe.
    """

    # (A dataclass: this module's one __init__ stays the gateway's, which the permission test's
    # call detector reads by name.)
    lock: threading.Lock = field(default_factory=threading.Lock)
    made: dict[tuple[str | None, str | None], Any] = field(default_factory=dict)


def _eks_client(
    sessions: Sessions, profile: str | None, role_arn: str | None, region: str | None, config: Any
) -> tuple[Any, Any, str | None]:
    """(session, EKS client, region) for ``region`` (None: the profile's or the environment's
    default region; no client when there is none)."""
    with sessions.lock:
        base = sessions.made.get((profile, None))
        if base is None:
            base = sessions.made[(profile, None)] = boto3.Session(profile_name=profile)
        session = sessions.made.get((profile, role_arn))
        if session is None:
            session = sessions.made[(profile, role_arn)] = _assumed(base, role_arn, region)
        name = region or base.region_name
        if name is None:
            return session, None, None
        return session, session.client("eks", region_name=name, config=config), name


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
        sessions: Sessions | None = None,
    ) -> None:
        """``sessions``: share boto3 sessions with the gateways of other regions (fleets)."""
        with translated("create the EKS client", subject="AWS"):
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
            shared = sessions if sessions is not None else Sessions()
            session, client, name = _eks_client(shared, profile, role_arn, region, config)
            if client is None or name is None:
                raise EnvironmentProblemError(
                    "no AWS region is configured",
                    hint="pass --region or set AWS_REGION (or a region in your AWS profile)",
                )
            self._region: str = name
            self._client: Any = client
            self._session = session
            events = self._client.meta.events
            # Each request's credentials are remembered for redaction when they sign it, so no
            # credential lookup happens that the SDK would not make anyway (and refreshed
            # credentials are remembered too).
            events.register("before-sign.eks", self._remember_credentials)
            events.register("before-parse.eks", check_answer_shape)

    def _remember_credentials(self, **_: Any) -> None:
        _register_credentials(self._session.get_credentials())

    @property
    def region(self) -> str:
        return self._region

    def _call(self, operation: str, *, subject: str, **params: Any) -> dict[str, Any]:
        with translated(operation, subject=subject):
            result: dict[str, Any] = getattr(self._client, _snake(operation))(**params)
            return result

    def _pages(self, operation: str, *, subject: str, **params: Any) -> Iterator[Answer]:
        """Every page of a listing, each as an Answer; a listing that never ends is a misfit."""
        with translated(operation, subject=subject):
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
        same(data, "name", cluster)
        return ClusterInfo(
            name=cluster,
            version=kubernetes_version(data),
            platform_version=data.shown_text("platformVersion"),
            status=data.shown_text("status"),
            region=self._region,
            endpoint=data.optional_text("endpoint"),
            arn=data.optional_text("arn"),
            health_issues=health_issues(data),
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
        return addon_state(Answer(data).child("addon"), cluster, addon)

    def addon_versions(self, addon: str, kubernetes: KubernetesVersion) -> list[CatalogueEntry]:
        found: dict[AddonVersion, bool] = {}
        pages = self._pages(
            "DescribeAddonVersions",
            subject=f"the {addon} catalogue",
            addonName=addon,
            kubernetesVersion=str(kubernetes),
        )
        for page in pages:
            for entry in catalogue_entries(page, addon, kubernetes):
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
            return addon_state(Answer(data).child("addon"), request.cluster, request.addon)
        except UnexpectedAnswerError as error:
            raise after_a_change(error, "CreateAddon") from error

    def update_addon(self, request: AddonRequest) -> UpdateState:
        data = self._call(
            "UpdateAddon",
            subject=f"{request.addon} on cluster {request.cluster}",
            **_request_params(request),
        )
        try:
            return update_state(Answer(data).child("update"))
        except UnexpectedAnswerError as error:
            update = data.get("update")
            update_id = update.get("id") if isinstance(update, dict) else None
            raise after_a_change(
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
        update = update_state(Answer(data).child("update"))
        if update.id != update_id:
            raise UnexpectedAnswerError(
                "EKS", "update.id", shown(update.id), context=f"asked for {update_id}"
            )
        return update

    def nodegroups(self, cluster: str) -> list[NodegroupInfo]:
        """Every managed node group of ``cluster``: ListNodegroups, then one DescribeNodegroup
        per group, side by side (a cluster's groups are as many calls deep as one)."""
        pages = self._pages("ListNodegroups", subject=f"cluster {cluster}", clusterName=cluster)
        names = sorted({name for page in pages for name in page.texts("nodegroups")})
        if len(names) <= 1:
            return [self._nodegroup(cluster, name) for name in names]
        with ThreadPoolExecutor(max_workers=min(len(names), NODEGROUP_READS)) as reads:
            # map raises the first failure in name order, as describing them in turn would.
            return list(reads.map(lambda name: self._nodegroup(cluster, name), names))

    def _nodegroup(self, cluster: str, name: str) -> NodegroupInfo:
        data = Answer(
            self._call(
                "DescribeNodegroup",
                subject=f"node group {name} of cluster {cluster}",
                clusterName=cluster,
                nodegroupName=name,
            )
        ).child("nodegroup")
        return NodegroupInfo(
            name,
            data.shown_text("version"),
            data.shown_text("releaseVersion"),
            data.shown_text("status"),
        )

    def fargate_profiles(self, cluster: str) -> list[str]:
        pages = self._pages(
            "ListFargateProfiles", subject=f"cluster {cluster}", clusterName=cluster
        )
        return sorted({name for page in pages for name in page.texts("fargateProfileNames")})

    # --- the cluster-upgrade calls --------------------------------------------------------------

    def list_addons(self, cluster: str) -> list[str]:
        pages = self._pages("ListAddons", subject=f"cluster {cluster}", clusterName=cluster)
        return sorted({name for page in pages for name in page.texts("addons")})

    def list_insights(self, cluster: str) -> list[InsightSummary]:
        found: dict[str, InsightSummary] = {}
        pages = self._pages("ListInsights", subject=f"cluster {cluster}", clusterName=cluster)
        for page in pages:
            for data in page.children("insights"):
                summary = insight_summary(data)
                found.setdefault(summary.id, summary)  # a page repeated: the first answer
        return list(found.values())

    def describe_insight(self, cluster: str, insight_id: str) -> InsightDetail:
        data = Answer(
            self._call(
                "DescribeInsight",
                subject=f"insight {insight_id} of cluster {cluster}",
                clusterName=cluster,
                id=insight_id,
            )
        ).child("insight")
        same(data, "id", insight_id)
        return insight_detail(data)

    def update_cluster_version(self, request: ClusterVersionRequest) -> UpdateState:
        params: dict[str, Any] = {
            "name": request.cluster,
            "version": str(request.version),
            "clientRequestToken": request.client_request_token,
        }
        if request.force:
            params["force"] = True  # sent only with the operator's consent
        data = self._call("UpdateClusterVersion", subject=f"cluster {request.cluster}", **params)
        try:
            return update_state(Answer(data).child("update"))
        except UnexpectedAnswerError as error:
            update = data.get("update")
            update_id = update.get("id") if isinstance(update, dict) else None
            raise after_a_change(
                error, "UpdateClusterVersion", update_id if isinstance(update_id, str) else None
            ) from error

    def describe_cluster_update(self, cluster: str, update_id: str) -> UpdateState:
        data = self._call(
            "DescribeUpdate",
            subject=f"update {update_id} of cluster {cluster}",
            name=cluster,
            updateId=update_id,
        )
        update = update_state(Answer(data).child("update"))
        if update.id != update_id:
            raise UnexpectedAnswerError(
                "EKS", "update.id", shown(update.id), context=f"asked for {update_id}"
            )
        return update

    def pod_identity_configuration(
        self, addon: str, version: AddonVersion
    ) -> tuple[PodIdentityConfiguration, ...]:
        data = self._call(
            "DescribeAddonConfiguration",
            subject=f"{addon} {version}",
            addonName=addon,
            addonVersion=str(version),
        )
        return pod_identity_configuration(Answer(data))


def _assumed(session: Any, role_arn: str | None, region: str | None) -> Any:
    """A session with the role's temporary credentials (fleets span accounts); ``session``
    itself when there is no role to assume."""
    if role_arn is None:
        return session
    with translated("AssumeRole", subject=f"role {role_arn}"):
        # The same lookup the STS client makes when it is created (the session caches it), so
        # the caller's credentials are remembered before anything can echo them.
        _register_credentials(session.get_credentials())
        answer = Answer(
            session.client("sts", region_name=region).assume_role(
                RoleArn=role_arn, RoleSessionName="eksaddon"
            ),
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
    if request.pod_identity_associations is not None:
        # Sent only when asked: omitted keeps the add-on's associations, [] deletes them.
        params["podIdentityAssociations"] = [
            {"serviceAccount": a.service_account, "roleArn": a.role_arn}
            for a in request.pod_identity_associations
        ]
    return params
