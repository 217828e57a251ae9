"""The EKS-API step driver: one UpdateAddon per step, followed by its id to a healthy ACTIVE.

Per step: record "sending", update_addon with the step's clientRequestToken, record the update
id, follow the update, wait for ACTIVE with no health issues at the target. Before a step is sent
the add-on must run the version the journal expects: someone else's change stops the run.
"""

from __future__ import annotations

from typing import Any

from eksaddon.addons import pod_identity
from eksaddon.engine import journal as journals
from eksaddon.engine.events import StepStarted
from eksaddon.engine.journal import Journal
from eksaddon.engine.waiting import StepContext, follow_update, retry_transient, wait_healthy
from eksaddon.errors import UpdateInProgressError, UpgradeStoppedError
from eksaddon.gateways.protocols import AddonRequest, AddonState, EksGateway
from eksaddon.versions import AddonVersion


class EksApiDriver:
    """Carries a managed add-on's step out through the EKS add-on API."""

    def __init__(self, gateway: EksGateway, *, cluster: str, addon: str) -> None:
        self.gateway = gateway
        self.cluster = cluster
        self.addon = addon

    def carry_out(
        self, ctx: StepContext, journal: Journal, step: dict[str, Any], *, resume_hint: str
    ) -> AddonState | None:
        if step["state"] == journals.FAILED:
            # The failed update's token would return that same update: a retry is a new attempt.
            journal.update_step(
                step,
                state=journals.PENDING,
                update_id=None,
                errors=[],
                attempt=int(step.get("attempt", 1)) + 1,
            )
        resumed = step["state"] != journals.PENDING
        if step["state"] == journals.PENDING:
            self._check_starting_point(journal, step)
        # When UpdateAddon answered: the update's polls keep to a grid from then on. None for
        # an update a rerun finds in flight (its age unknown: polled at once).
        sent_at: float | None = None
        if step["state"] == journals.IN_FLIGHT:
            update_id: str | None = step["update_id"]
        else:
            update_id = self._send(ctx, journal, step, resume_hint)
            sent_at = ctx.clock.now()
        if update_id is not None:
            self._follow(
                ctx, journal, step, update_id, resumed=resumed, hint=resume_hint, sent_at=sent_at
            )
        state = wait_healthy(ctx, resume_hint=resume_hint)
        if str(state.version) != step["to"]:
            raise UpgradeStoppedError(
                f"after step {step['index']} {self.addon} on cluster {self.cluster} runs "
                f"{state.version}, not {step['to']}",
                hint=resume_hint,
            )
        return state

    def _follow(
        self,
        ctx: StepContext,
        journal: Journal,
        step: dict[str, Any],
        update_id: str,
        *,
        resumed: bool,
        hint: str,
        sent_at: float | None,
    ) -> None:
        total = len(journal.steps)
        ctx.progress(
            StepStarted(
                step["index"],
                total,
                AddonVersion.parse(step["from"]),
                AddonVersion.parse(step["to"]),
                update_id,
                resumed,
            )
        )
        update = follow_update(ctx, update_id, resume_hint=hint, sent_at=sent_at)
        if update.status == "Successful":
            return
        errors = [
            {"code": e.code, "message": e.message, "resource_ids": list(e.resource_ids)}
            for e in update.errors
        ]
        journal.update_step(step, state=journals.FAILED, errors=errors, finished_at=journals.now())
        detail = "; ".join(f"{e.code}: {e.message}" for e in update.errors) or "no details"
        raise UpgradeStoppedError(
            f"update {update_id} of {self.addon} on cluster {self.cluster} to "
            f"{step['to']} (step {step['index']} of {total}) ended {update.status}: {detail}",
            hint=hint,
        )

    def _check_starting_point(self, journal: Journal, step: dict[str, Any]) -> None:
        """Just before a step is sent the add-on must run the version the journal expects:
        another actor's change (even a downgrade EKS would accept) stops the run (exit 4)."""
        live = self.gateway.describe_addon(self.cluster, self.addon)
        found = "nothing (the add-on is gone)" if live is None else str(live.version)
        if found != step["from"]:
            raise UpgradeStoppedError(
                f"before step {step['index']} of {len(journal.steps)} ({step['from']} → "
                f"{step['to']}) {self.addon} on cluster {self.cluster} runs {found}, "
                f"not {step['from']} as the journal expects: someone changed it meanwhile; "
                "nothing more was sent",
                hint=f"check it (`eksaddon status --cluster {self.cluster}`), then rerun "
                f"`eksaddon upgrade --cluster {self.cluster} --discard-journal` to plan afresh "
                "from it",
            )

    def _send(
        self, ctx: StepContext, journal: Journal, step: dict[str, Any], resume_hint: str
    ) -> str | None:
        """Start the step's update; None when a crash left it already done."""
        if step["state"] == journals.SENDING:
            live = self.gateway.describe_addon(self.cluster, self.addon)
            if live is not None and str(live.version) == step["to"]:
                return None  # sent and finished before the crash: only health is left to check
        journal.update_step(step, state=journals.SENDING, started_at=journals.now())
        settings = journal.document["settings"]
        request = AddonRequest(
            cluster=self.cluster,
            addon=self.addon,
            version=AddonVersion.parse(step["to"]),
            resolve_conflicts=settings["resolve_conflicts"],
            client_request_token=journal.token(step),
            configuration_values=settings["configuration_values"],
            service_account_role_arn=settings["service_account_role_arn"],
            pod_identity_associations=pod_identity.from_journal(
                settings.get("pod_identity_associations")
            ),
        )
        try:
            update = retry_transient(
                ctx,
                lambda: self.gateway.update_addon(request),
                what=f"UpdateAddon of {self.addon} to {step['to']}",
                resume_hint=resume_hint,
            )
        except UpdateInProgressError as error:
            raise UpgradeStoppedError(error.message, hint=error.hint) from error
        journal.update_step(step, state=journals.IN_FLIGHT, update_id=update.id)
        return update.id
