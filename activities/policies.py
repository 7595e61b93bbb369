"""The policy room: the policy check of a change's plan stage, every attached policy per
operation.

Each operation is evaluated independently against its redacted plan; results with
``sample`` set are kept (redacted input + result) for the policy workbench.
"""

from __future__ import annotations

from typing import Any

from integrations.kinds import (
    IntegrationFacts,
)
from policies.engine import evaluate_policies_async
from policies.input import (
    SENSITIVE,
    PolicyActor,
    PolicyIntegration,
    PolicyProject,
    PolicyRequest,
    ResourceFacts,
    build_policy_input,
)
from policies.models import PolicySource, PolicyVerdict
from settings import Settings
from store import integrations as store_integrations
from store import policies as store_policies
from store import projects as store_projects
from store.db import Database
from store.secrets import mask_credentials
from workflows.models import (
    PlannedOperation,
    PolicyCheckInput,
    PolicyResultView,
    PolicyVerdictView,
)

__all__ = ["AttachedFacts", "PolicyEvaluator", "policy_input_for"]

# An attached integration's facts and the provider configuration it gives.
AttachedFacts = tuple[IntegrationFacts, dict[str, Any]]

_ACTIONS = {
    "create": ["create"],
    "update": ["update"],
    "replace": ["delete", "create"],
    "delete": ["delete"],
    "no-op": ["no-op"],
    "import": ["import"],
    "refresh": ["read"],
    "gone": ["read"],
}


def policy_input_for(
    input: PolicyCheckInput,
    planned: PlannedOperation,
    attached: AttachedFacts | None = None,
) -> dict[str, Any]:
    """DESIGN.md's policy input for one planned operation (states arrive redacted), plus
    the project's provider configuration (e.g. the AWS region) as
    ``resource.provider_config`` and its integration as ``integration``."""
    facts, provider_config = attached if attached is not None else (None, None)
    built = build_policy_input(
        ResourceFacts(
            resource_id=planned.resource_id,
            resource_type=planned.resource_type,
            provider=planned.provider,
            provider_version=planned.provider_version,
            operation=planned.kind,
            current_state=planned.before,
            proposed_state=None if planned.action in ("delete", "gone") else planned.after,
            actions=_ACTIONS.get(planned.action, [planned.action]),
            replace_paths=planned.replace_segments,
            provider_config=mask_credentials(provider_config, SENSITIVE),
        ),
        PolicyProject(
            id=input.project.id,
            name=input.project.name,
            space=input.project.space,
            labels=input.project.labels,
        ),
        PolicyActor(
            id=input.actor.id,
            name=input.actor.name,
            roles=input.actor.roles,
            via=input.actor.via,
        ),
        PolicyRequest(change_id=input.change_id, timestamp_ns=input.timestamp_ns),
        integration=None if facts is None else PolicyIntegration(**facts.policy_input()),
    )
    data: dict[str, Any] = built.model_dump(mode="json", exclude_none=False)
    return data


def verdict_view(index: int, verdict: PolicyVerdict) -> PolicyVerdictView:
    return PolicyVerdictView(
        index=index,
        decision=verdict.decision,
        reasons=[str(reason) for reason in verdict.reasons]
        if verdict.decision != "allowed"
        else [],
        policies=[
            PolicyResultView(policy=r.policy, deny=r.deny, allow=r.allow, error=r.error)
            for r in verdict.results
        ],
    )


class PolicyEvaluator:
    def __init__(self, db: Database, settings: Settings) -> None:
        self.db = db
        self.settings = settings

    async def sources(self, project_id: str) -> list[PolicySource]:
        async with self.db.session() as session:
            project = await store_projects.find_project(session, project_id)
            if project is None:
                return []
            attached = await store_policies.attached_policies(session, project)
        return [
            PolicySource(name=p.name, body=p.body, rego_version=p.rego_version, id=p.id)
            for p, _how in attached
        ]

    async def integrations(self, project_id: str) -> dict[str, AttachedFacts]:
        """Per provider: the attached integration's facts and the provider configuration
        it gives (credentials aside)."""
        async with self.db.session() as session:
            found = await store_integrations.attachments_of(session, project_id)
        sandbox = self.settings.sandbox_endpoint_if_on
        attached: dict[str, AttachedFacts] = {}
        for item in found:
            setup = store_integrations.shown_setup_of(item, sandbox)
            attached[item[0].provider] = (store_integrations.facts_of(item), setup.config)
        return attached

    async def evaluate(self, input: PolicyCheckInput) -> list[PolicyVerdictView]:
        sources = await self.sources(input.project.id)
        attached = await self.integrations(input.project.id) if sources else {}
        views: list[PolicyVerdictView] = []
        for planned in input.operations:
            if not sources:
                views.append(PolicyVerdictView(index=planned.index, decision="allowed"))
                continue
            data = policy_input_for(input, planned, attached.get(planned.provider))
            verdict = await evaluate_policies_async(
                sources, data, timeout_seconds=self.settings.policy_timeout_seconds
            )
            views.append(verdict_view(planned.index, verdict))
            sampled = [r for r in verdict.results if r.sample and r.policy_id]
            if sampled:
                async with self.db.transaction() as session:
                    for result in sampled:
                        assert result.policy_id is not None
                        await store_policies.add_sample(
                            session,
                            result.policy_id,
                            input=data,
                            result=result.model_dump(mode="json"),
                            project_id=input.project.id,
                            change_id=input.change_id,
                        )
        return views
