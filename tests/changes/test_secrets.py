"""Secrets never show: not in history, tool output, Temporal histories or logs."""

from __future__ import annotations

import base64
import json
import logging
from typing import Any

import pytest
from sqlalchemy import select

from store.models import Change, Operation, PolicySample, Resource
from tests.api.mcp_client import mcp_client, text_of
from tests.changes.test_lifecycle import start_project
from tests.support.leaks import assert_absent, data_files, our_logs, temporal_histories
from tests.support.moto import MotoServer
from tests.support.stack import IntentStack

pytestmark = pytest.mark.slow

SSM_SECRET = "ssm-Secret-Value-7f3a9c"
SSM_SECRET_2 = "ssm-Secret-Value-2b8e41"
ENV_SECRET = "env-Secret-Token-c0ffee"
INTEGRATION_SECRET = "integration-Secret-Key-9d7e"


async def test_sensitive_values_and_secret_env_never_leak(
    aws_stack: IntentStack, moto_server: MotoServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    outputs: list[str] = []
    token = await aws_stack.token("alice")
    async with mcp_client(aws_stack.mcp_url, token) as client:

        async def tool(name: str, arguments: dict[str, Any]) -> dict[str, Any]:
            result = await client.call_tool(name, arguments)
            outputs.append(text_of(result))
            outputs.append(json.dumps(result.structured_content))
            assert not result.is_error, text_of(result)
            assert result.structured_content is not None
            content: dict[str, Any] = result.structured_content
            return content

        await start_project(client, "secrets")
        http = await aws_stack.http("alice")
        put = await http.put(
            "/api/v1/projects/secrets/environment/GITHUB_TOKEN",
            json={"value": ENV_SECRET, "secret": True},
        )
        assert put.status_code == 200 and put.json()["value"] == "********"
        # An integration's credential (on a provider this project does not use).
        root = await aws_stack.http("root", ["space-admin"])
        made = await root.post(
            "/api/v1/integrations",
            json={
                "name": "keys",
                "kind": "static",
                "settings": {
                    "provider": "hashicorp/random",
                    "config": {"secret_key": INTEGRATION_SECRET},
                },
            },
        )
        assert made.status_code == 201 and INTEGRATION_SECRET not in made.text
        attached = await http.put("/api/v1/projects/secrets/integrations/keys", json={})
        assert attached.status_code == 200 and INTEGRATION_SECRET not in attached.text
        listed = (await http.get("/api/v1/projects/secrets/environment")).json()
        outputs.append(json.dumps(listed))
        assert listed[0]["value"] == "********"

        created = await tool(
            "lifecycle-resources-create",
            {
                "resources": [
                    {
                        "resource_id": "db-password",
                        "resource_type": "aws_ssm_parameter",
                        "config": {
                            "name": "/secrets/db-password",
                            "type": "SecureString",
                            "value": SSM_SECRET,
                        },
                    }
                ]
            },
        )
        assert created["status"] == "applied", created
        updated = await tool(
            "lifecycle-resources-update",
            {"resources": [{"resource_id": "db-password", "config": {"value": SSM_SECRET_2}}]},
        )
        assert updated["status"] == "applied", updated
        assert "value" in updated["operations"][0]["changes"]  # the change is visible, masked
        # A sensitive value may not be carried into a place that shows it.
        leak = await tool(
            "resource-plan",
            {
                "operations": [
                    {
                        "kind": "create",
                        "resource_id": "leaky",
                        "resource_type": "aws_s3_bucket",
                        "config": {
                            "bucket": "leaky-bucket",
                            "tags": {"pw": "${db-password.value}"},
                        },
                    }
                ]
            },
        )
        assert leak["status"] == "invalid", leak
        assert "sensitive value" in leak["message"]
        for name, arguments in (
            ("state-get", {"resource_id": "db-password"}),
            ("state-list", {}),
            ("history-list", {"limit": 100}),
            ("change-status", {"change_id": updated["change_id"]}),
            (
                "resource-plan",
                {
                    "operations": [
                        {
                            "kind": "update",
                            "resource_id": "db-password",
                            "config": {"value": "x" + SSM_SECRET},
                        }
                    ]
                },
            ),
        ):
            await tool(name, arguments)
        for path in (
            "/api/v1/projects/secrets/history?limit=200",
            f"/api/v1/changes/{updated['change_id']}/detail",
            "/api/v1/projects/secrets/resources/db-password",
        ):
            outputs.append((await http.get(path)).text)

    # The secret really reached AWS (so the scan below is meaningful).
    ssm = moto_server.client("ssm")
    stored = ssm.get_parameter(Name="/secrets/db-password", WithDecryption=True)
    assert stored["Parameter"]["Value"] == SSM_SECRET_2

    # History rows, change summaries and policy samples in the database.
    async with aws_stack.db.session() as session:
        for model in (Operation, PolicySample):
            for row in (await session.scalars(select(model))).all():
                outputs.append(
                    json.dumps(
                        {c.name: getattr(row, c.name) for c in model.__table__.columns}, default=str
                    )
                )
        for change in (await session.scalars(select(Change))).all():
            outputs.append(json.dumps(change.summary))
        resource = (await session.scalars(select(Resource))).one()
        outputs.append(json.dumps([resource.state_view, resource.config_view]))

    # Everything Temporal recorded for this test's workflows (what the Temporal UI shows).
    outputs += await temporal_histories(aws_stack)
    assert len(outputs) > 20
    logs = our_logs(caplog)
    assert "db-password" in "\n".join(outputs)  # the scan covers the resource
    secrets = (SSM_SECRET, SSM_SECRET_2, ENV_SECRET, INTEGRATION_SECRET)
    # At rest: every byte of the data directory (database, its WAL, the key file's
    # neighbours), not only what the API shows.
    files = data_files(aws_stack)
    assert any(p.name == "intent.db" for p in files)
    # The scan reads what is there: the parameter's (non-secret) name is, in the clear.
    assert any(b"/secrets/db-password" in p.read_bytes() for p in files)
    assert_absent(secrets, [*outputs, logs], files)
    for secret in secrets:  # base64 spellings too
        encoded = base64.b64encode(secret.encode()).decode()[:16]
        assert not any(encoded in text for text in outputs)
    # ... and the worker still opens what it sealed: the SecureString round-trips.
    async with aws_stack.db.session() as session:
        resource = (await session.scalars(select(Resource))).one()
        assert resource.config["value"] == SSM_SECRET_2
