"""The RBAC matrix, through the real server: every built-in role, bound in a parent space
or in its child space, tried on a project (and a policy) in each of the two spaces,
through REST routes, MCP tools and UI actions.

What should happen is not written here: it is computed from the permission module's
own table (``access.roles`` and ``access.permissions``) for each cell, and the server
must agree — an allowed call passes authorization (it succeeds, or stops later for
another reason such as not holding the project's lock), a refused one answers 403
(a tool error saying "may not" over MCP).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from temporalio.testing import WorkflowEnvironment

from access.actions import ACTIONS
from access.models import Grant, Principal, SpaceRef
from access.permissions import is_allowed
from access.roles import BUILTIN_ROLES
from tests.api.mcp_client import mcp_client, text_of
from tests.support.stack import IntentStack, run_stack

ALLOWED, REFUSED = "allowed", "refused"
SPACES = ("parent", "child")
PATHS = {
    "parent": (SpaceRef("root", "root"), SpaceRef("parent", "parent")),
    "child": (SpaceRef("root", "root"), SpaceRef("parent", "parent"), SpaceRef("child", "child")),
}
POLICY = 'package spacelift\n\nallow contains "ok" if { true }\n'
# Actions whose doors need a real change or provider in flight; the change-workflow and
# lock tests (tests/changes, tests/workflows, test_permissions) decide them instead.
PROBED_ELSEWHERE = {
    "intent-resource:update",
    "intent-resource:import",
    "intent-resource:refresh",
    "intent-change:confirm",
    "intent-change:review",
    "intent-change:retry",
    "intent-change:abandon",
    "intent-provider:lock",
    "intent-policy:delete",
    "intent-role:manage",
    "intent-user:manage",
    "intent-audit:read",
}


@dataclass
class World:
    stack: IntentStack
    space_ids: dict[str, str]
    counter: itertools.count[int] = field(default_factory=itertools.count)

    def unique(self, prefix: str) -> str:
        return f"{prefix}-{next(self.counter)}"


@pytest_asyncio.fixture(scope="module")
async def world(
    temporal_env: WorkflowEnvironment, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[World]:
    tmp: Path = tmp_path_factory.mktemp("rbac")
    async with run_stack(temporal_env, tmp) as stack:
        boss = await stack.http("boss", roles=["space-admin"])
        ids = {}
        parent = "root"
        for name in SPACES:
            made = await boss.post("/api/v1/spaces", json={"name": name, "parent": parent})
            assert made.status_code == 201, made.text
            ids[name] = made.json()["id"]
            parent = name
            assert (
                await boss.post("/api/v1/projects", json={"name": f"p-{name}", "space": name})
            ).status_code == 201
            created = await boss.post(
                "/api/v1/policies", json={"name": f"pol-{name}", "body": POLICY, "space": name}
            )
            assert created.status_code == 201, created.text
            role = f"arn:aws:iam::123456789012:role/{name}"
            created = await boss.post(
                "/api/v1/integrations",
                json={"name": f"int-{name}", "space": name, "settings": {"role_arn": role}},
            )
            assert created.status_code == 201, created.text
        # Where the move probe takes a project from each space: one level down, where
        # nobody in the matrix holds more than where it comes from.
        made = await boss.post("/api/v1/spaces", json={"name": "grandchild", "parent": "child"})
        assert made.status_code == 201, made.text
        for role, where in itertools.product(BUILTIN_ROLES, SPACES):
            user = f"{role}-at-{where}"
            await stack.token(user, roles=[])
            bound = await boss.post(
                f"/api/v1/spaces/{where}/bindings", json={"role": role, "subject": user}
            )
            assert bound.status_code == 201, bound.text
        yield World(stack, ids)


def expected(role: str, bound_at: str, action: str, target: str) -> str:
    """The permission module's answer for this cell."""
    principal = Principal(
        id="x",
        name="x",
        grants=(Grant(space=bound_at, role=role, actions=BUILTIN_ROLES[role].actions),),
    )
    return ALLOWED if is_allowed(principal, action, PATHS[target]) else REFUSED


def outcome(response: httpx.Response) -> str:
    if response.status_code == 403:
        return REFUSED
    assert response.status_code < 500, response.text
    return ALLOWED


# Each probe: (action, door, call). A call gets the world, the user's REST client and the
# target space name, and returns the response to judge.
Probe = Callable[[World, httpx.AsyncClient, str], Awaitable[httpx.Response]]


def _op(kind: str) -> dict[str, object]:
    return {"kind": kind, "resource_id": "r1", "resource_type": "aws_s3_bucket", "config": {}}


REST_PROBES: list[tuple[str, Probe]] = [
    ("intent-project:read", lambda w, h, t: h.get(f"/api/v1/projects/p-{t}")),
    ("intent-project:read", lambda w, h, t: h.get(f"/api/v1/projects/p-{t}/history")),
    ("intent-state:read", lambda w, h, t: h.get(f"/api/v1/projects/p-{t}/resources")),
    (
        "intent-project:create",
        lambda w, h, t: h.post("/api/v1/projects", json={"name": w.unique("new"), "space": t}),
    ),
    (
        "intent-project:update",
        lambda w, h, t: h.patch(f"/api/v1/projects/p-{t}", json={"description": "touched"}),
    ),
    ("intent-project:lock", lambda w, h, t: _lock_and_release(h, t)),
    (
        "intent-project:unlock",
        lambda w, h, t: h.delete(f"/api/v1/projects/p-{t}/lock", params={"force": "true"}),
    ),
    ("intent-project:delete", lambda w, h, t: _delete_fresh_project(w, h, t)),
    ("intent-project:move", lambda w, h, t: _move_fresh_project(w, h, t)),
    (
        "intent-resource:create",
        lambda w, h, t: h.post(
            f"/api/v1/projects/p-{t}/changes", json={"operations": [_op("create")]}
        ),
    ),
    (
        "intent-resource:delete",
        lambda w, h, t: h.post(
            f"/api/v1/projects/p-{t}/changes", json={"operations": [_op("delete")]}
        ),
    ),
    ("intent-state:eject", lambda w, h, t: h.delete(f"/api/v1/projects/p-{t}/resources/r1/state")),
    (
        "intent-datasource:read",
        lambda w, h, t: h.post(
            "/api/v1/providers/data-sources/read",
            json={"project": f"p-{t}", "data_source": "aws_caller_identity"},
        ),
    ),
    (
        "intent-environment:write",
        lambda w, h, t: h.put(
            f"/api/v1/projects/p-{t}/environment/AWS_REGION", json={"value": "1"}
        ),
    ),
    ("intent-integration:read", lambda w, h, t: h.get(f"/api/v1/integrations/int-{t}")),
    (
        "intent-integration:manage",
        lambda w, h, t: h.patch(
            f"/api/v1/integrations/int-{t}", json={"settings": {"session_seconds": 1800}}
        ),
    ),
    (
        "intent-integration:attach",
        lambda w, h, t: h.put(
            f"/api/v1/projects/p-{t}/integrations/int-{t}", json={"region": "eu-west-1"}
        ),
    ),
    (
        "intent-integration:write",
        lambda w, h, t: h.put(
            f"/api/v1/projects/p-{t}/integrations/int-{t}", json={"read": True, "write": True}
        ),
    ),
    ("intent-policy:read", lambda w, h, t: h.get(f"/api/v1/policies/pol-{t}")),
    ("intent-policy:samples", lambda w, h, t: h.get(f"/api/v1/policies/pol-{t}/samples")),
    (
        "intent-policy:create",
        lambda w, h, t: h.post(
            "/api/v1/policies", json={"name": w.unique("pol"), "body": POLICY, "space": t}
        ),
    ),
    (
        "intent-policy:update",
        lambda w, h, t: h.patch(f"/api/v1/policies/pol-{t}", json={"description": "touched"}),
    ),
    (
        "intent-policy:attach",
        lambda w, h, t: h.put(f"/api/v1/projects/p-{t}/policies/pol-{t}"),
    ),
    ("intent-space:admin", lambda w, h, t: h.get(f"/api/v1/spaces/{t}/bindings")),
    ("intent-project:read", lambda w, h, t: h.get(f"/api/v1/projects/p-{t}/describe")),
    (
        "intent-project:update",
        lambda w, h, t: h.put(f"/api/v1/projects/p-{t}/drift-schedule", json={}),
    ),
    ("intent-project:extend-ttl", lambda w, h, t: _extend_fresh_ttl(w, h, t)),
    (
        "intent-state:export-secrets",
        lambda w, h, t: h.post(f"/api/v1/projects/p-{t}/export", json={"include_secrets": True}),
    ),
]


async def _lock_and_release(http: httpx.AsyncClient, target: str) -> httpx.Response:
    taken = await http.post(f"/api/v1/projects/p-{target}/lock")
    if taken.status_code == 200:
        await http.delete(f"/api/v1/projects/p-{target}/lock")
    return taken


async def _extend_fresh_ttl(world: World, http: httpx.AsyncClient, target: str) -> httpx.Response:
    boss = await world.stack.http("boss")
    name = world.unique("expiring")
    made = await boss.post("/api/v1/projects", json={"name": name, "space": target, "ttl": "1h"})
    assert made.status_code == 201, made.text
    return await http.put(f"/api/v1/projects/{name}/ttl", json={"ttl": "2h"})


async def _delete_fresh_project(
    world: World, http: httpx.AsyncClient, target: str
) -> httpx.Response:
    boss = await world.stack.http("boss")
    name = world.unique("doomed")
    made = await boss.post("/api/v1/projects", json={"name": name, "space": target})
    assert made.status_code == 201, made.text
    return await http.delete(f"/api/v1/projects/{name}")


async def _move_fresh_project(world: World, http: httpx.AsyncClient, target: str) -> httpx.Response:
    boss = await world.stack.http("boss")
    name = world.unique("moved")
    made = await boss.post("/api/v1/projects", json={"name": name, "space": target})
    assert made.status_code == 201, made.text
    below = {"parent": "child", "child": "grandchild"}[target]
    return await http.patch(f"/api/v1/projects/{name}", json={"space": below})


async def test_every_action_has_a_probe_or_is_probed_elsewhere() -> None:
    probed = {action for action, _ in REST_PROBES} | PROBED_ELSEWHERE
    assert set(ACTIONS) - probed == set(), "add a probe for each new action"


@pytest.mark.slow
async def test_rest_routes_follow_the_permission_table(world: World) -> None:
    mismatches = []
    for role, bound_at in itertools.product(BUILTIN_ROLES, SPACES):
        http = await world.stack.http(f"{role}-at-{bound_at}")
        for (action, probe), target in itertools.product(REST_PROBES, SPACES):
            want = expected(role, bound_at, action, target)
            got = outcome(await probe(world, http, target))
            if got != want:
                mismatches.append(f"{role}@{bound_at} {action} on {target}: {got}, want {want}")
    assert mismatches == []


@pytest.mark.slow
async def test_mcp_tools_follow_the_permission_table(world: World) -> None:
    mismatches = []
    for role, bound_at in itertools.product(BUILTIN_ROLES, SPACES):
        user = f"{role}-at-{bound_at}"
        token = await world.stack.token(user)
        async with mcp_client(world.stack.mcp_url, token) as client:
            listed = text_of(await client.call_tool("project-list", {}))
            for target in SPACES:
                visible = f"p-{target}" in listed
                if visible != (expected(role, bound_at, "intent-project:read", target) == ALLOWED):
                    mismatches.append(f"{user} project-list shows p-{target}: {visible}")
                calls: list[tuple[str, str, dict[str, Any]]] = [
                    ("intent-state:read", "state-list", {"project": f"p-{target}"}),
                    ("intent-project:lock", "project-use", {"project": f"p-{target}"}),
                    ("intent-policy:read", "policy-get", {"policy": f"pol-{target}"}),
                    (
                        "intent-integration:attach",
                        "integration-attach",
                        {"project": f"p-{target}", "integration": f"int-{target}"},
                    ),
                    (
                        "intent-resource:create",
                        "lifecycle-resources-create",
                        {
                            "project": f"p-{target}",
                            "resources": [
                                {"resource_id": "b", "resource_type": "aws_s3_bucket", "config": {}}
                            ],
                        },
                    ),
                ]
                for action, tool, arguments in calls:
                    result = await client.call_tool(tool, arguments)
                    refused = result.is_error and " may not " in text_of(result)
                    got = REFUSED if refused else ALLOWED
                    want = expected(role, bound_at, action, target)
                    if got != want:
                        mismatches.append(f"{user} {tool} on {target}: {got}, want {want}")
                    if tool == "project-use" and not result.is_error:
                        await client.call_tool("project-release", {"project": f"p-{target}"})
    assert mismatches == []


@pytest.mark.slow
async def test_ui_actions_follow_the_permission_table(world: World) -> None:
    mismatches = []
    for role, bound_at in itertools.product(BUILTIN_ROLES, SPACES):
        user = f"{role}-at-{bound_at}"
        browser = await world.stack.signed_in(user, roles=[])
        page = await browser.get("/ui/projects")
        csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', page.text)
        assert csrf is not None
        token = csrf.group(1)
        for target in SPACES:
            tries = [
                ("intent-project:read", browser.get(f"/ui/projects/p-{target}")),
                (
                    "intent-project:create",
                    browser.post(
                        "/ui/projects",
                        data={
                            "name": world.unique("ui"),
                            "space": world.space_ids[target],
                            "csrf": token,
                        },
                    ),
                ),
                (
                    "intent-environment:write",
                    browser.post(
                        f"/ui/projects/p-{target}/environment",
                        data={"name": "AWS_REGION", "value": "2", "csrf": token},
                    ),
                ),
                (
                    "intent-policy:update",
                    browser.post(
                        f"/ui/policies/pol-{target}",
                        data={"body": POLICY, "description": "ui", "csrf": token},
                    ),
                ),
                (
                    "intent-integration:attach",
                    browser.post(
                        f"/ui/projects/p-{target}/integrations",
                        data={"integration": f"int-{target}", "read": "true", "csrf": token},
                    ),
                ),
            ]
            for action, call in tries:
                got = outcome(await call)
                want = expected(role, bound_at, action, target)
                if got != want:
                    mismatches.append(f"{user} UI {action} on {target}: {got}, want {want}")
    assert mismatches == []


@pytest.mark.slow
async def test_authors_and_operators_stay_apart(world: World) -> None:
    """The walkthrough's promise, spelled out for the two roles it names."""
    author = await world.stack.http("policy-author-at-parent")
    operator = await world.stack.http("operator-at-parent")
    refused = await author.post(
        "/api/v1/projects/p-parent/changes", json={"operations": [_op("create")]}
    )
    assert refused.status_code == 403
    assert refused.json()["message"].startswith("policy-author-at-parent may not create resources")
    assert (
        await author.patch("/api/v1/policies/pol-child", json={"description": "by the author"})
    ).status_code == 200
    refused = await operator.patch("/api/v1/policies/pol-parent", json={"description": "no"})
    assert refused.status_code == 403
    assert "needs intent-policy:update" in refused.json()["message"]
