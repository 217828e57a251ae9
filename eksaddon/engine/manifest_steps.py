"""The manifest-apply step driver: render a step's objects, apply them, let the hook verify.

Used for a self-managed add-on (no EKS add-on API): each step's objects are rendered for the
target release with the carried settings and applied with server-side apply (field manager
``eksaddon``). Server-side apply is idempotent, so a step recorded "sending" is simply applied
again on a rerun; once every object is applied the step is recorded "applied", and the runner's
node-side hook proves the rollout.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from eksaddon.engine import journal as journals
from eksaddon.engine.events import ManifestApplied
from eksaddon.engine.journal import Journal
from eksaddon.engine.waiting import StepContext, retry_transient
from eksaddon.gateways.protocols import AddonState, KubernetesWriter
from eksaddon.versions import AddonVersion

APPLIED = "applied"

# A target release -> the objects to apply for it (with the carried settings).
Renderer = Callable[[AddonVersion], list[dict[str, Any]]]


class ManifestApplyDriver:
    """Carries a self-managed add-on's step out by applying its rendered objects."""

    def __init__(self, writer: KubernetesWriter, render: Renderer) -> None:
        self.writer = writer
        self.render = render

    def carry_out(
        self, ctx: StepContext, journal: Journal, step: dict[str, Any], *, resume_hint: str
    ) -> AddonState | None:
        if step["state"] == APPLIED:
            return None
        target = AddonVersion.parse(step["to"])
        journal.update_step(step, state=journals.SENDING, started_at=journals.now())
        for document in self.render(target):
            # An API server that fails for a while is retried until the step's deadline, like
            # every other call of a step.
            retry_transient(
                ctx,
                partial(self.writer.apply, document),
                what=f"applying {document['kind']} {document['metadata']['name']}",
                resume_hint=resume_hint,
            )
        journal.update_step(step, state=APPLIED)
        ctx.progress(ManifestApplied(ctx.number, ctx.total, target))
        return None
