"""AWS integrations through the real pieces: a moto server enforcing IAM (STS, IAM, S3),
the real hashicorp/aws provider, and intent's worker assuming roles for each change.

The worker's own credentials are an IAM user's (its standard chain: environment
variables); the integration's roles trust that user only with the external id intent
generated, exactly as the trust policy intent shows says. A recording proxy in front of
moto tells which credentials signed every request.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from temporalio.testing import WorkflowEnvironment

from providers.models import InstalledProvider
from tests.api.mcp_client import mcp_client, text_of
from tests.support.aws_proxy import AwsProxy, aws_proxy
from tests.support.leaks import assert_absent, data_files, temporal_histories
from tests.support.moto import REGION, MotoServer, start_moto
from tests.support.providers import provider_pids
from tests.support.stack import IntentStack, aws_overrides, run_stack

pytestmark = pytest.mark.slow

ACCOUNT = "123456789012"
WRITER = f"arn:aws:iam::{ACCOUNT}:role/intent-writer"
READER = f"arn:aws:iam::{ACCOUNT}:role/intent-reader"
POLICY = """package spacelift

allow contains "acme's account" if input.integration.account_id == "123456789012"

deny contains msg if {
    input.integration.region != "us-east-1"
    msg := sprintf("acme works in us-east-1, not %s", [input.integration.region])
}

sample := true
"""


class _Records(logging.Handler):
    """Every log line of the module, whichever logger (intent's or the SDKs' in it)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(f"{record.name} {record.getMessage()} {record.exc_text or ''}")


@dataclass
class Cloud:
    stack: IntentStack
    moto: MotoServer
    proxy: AwsProxy
    worker_key: dict[str, str]
    auditor: Any  # an S3 client allowed to look, for checks under enforced IAM
    root: httpx.AsyncClient
    logs: _Records
    runtime_dir: Path
    outputs: list[str] = field(default_factory=list)

    async def tool(self, user: str, name: str, arguments: dict[str, Any]) -> tuple[bool, Any]:
        """Call an MCP tool as ``user``; (is_error, structured content or text)."""
        async with mcp_client(self.stack.mcp_url, await self.stack.token(user)) as client:
            result = await client.call_tool(name, arguments)
        self.outputs += [text_of(result), json.dumps(result.structured_content)]
        return result.is_error, result.structured_content or text_of(result)

    async def ok(self, user: str, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
        failed, content = await self.tool(user, name, arguments)
        assert not failed, content
        return dict(content)

    async def rest(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        response = await self.root.request(method, path, **kwargs)
        self.outputs.append(response.text)
        return response

    def sessions(self) -> dict[str, dict[str, Any]]:
        """Role sessions moto issued, by access key id."""
        return {s["access_key_id"]: s for s in self.moto.assumed_roles()}

    def buckets(self) -> set[str]:
        return {b["Name"] for b in self.auditor.list_buckets()["Buckets"]}


@pytest.fixture(scope="module")
def iam_moto() -> Iterator[MotoServer]:
    server = start_moto()
    try:
        yield server
    finally:
        server.stop()


@pytest_asyncio.fixture(scope="module")
async def cloud(
    temporal_env: WorkflowEnvironment,
    tmp_path_factory: pytest.TempPathFactory,
    iam_moto: MotoServer,
    aws_provider: InstalledProvider,
    shared_provider_dir: Path,
    provider_runtime_dir: Path,
) -> AsyncIterator[Cloud]:
    iam = iam_moto.client("iam")
    worker = iam.create_user(UserName="intent-worker")["User"]
    key = iam.create_access_key(UserName="intent-worker")["AccessKey"]
    iam.put_user_policy(
        UserName="intent-worker",
        PolicyName="assume-integration-roles",
        PolicyDocument=json.dumps(_allow(["sts:AssumeRole", "sts:TagSession"])),
    )
    iam.create_user(UserName="auditor")
    seeing = iam.create_access_key(UserName="auditor")["AccessKey"]
    iam.put_user_policy(
        UserName="auditor",
        PolicyName="look",
        PolicyDocument=json.dumps(_allow(["s3:List*", "s3:Get*"])),
    )
    records = _Records()
    root_logger = logging.getLogger()
    level = root_logger.level
    root_logger.addHandler(records)
    root_logger.setLevel(logging.DEBUG)
    with aws_proxy(iam_moto.url) as proxy, pytest.MonkeyPatch.context() as env:
        # The worker's own credentials: its standard AWS chain (environment variables).
        env.setenv("AWS_ACCESS_KEY_ID", key["AccessKeyId"])
        env.setenv("AWS_SECRET_ACCESS_KEY", key["SecretAccessKey"])
        for name in ("AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_CONFIG_FILE"):
            env.delenv(name, raising=False)
        settings = {
            **aws_overrides(iam_moto, aws_provider.path, shared_provider_dir, provider_runtime_dir),
            "sandbox": False,
            "aws_principal_arn": worker["Arn"],
            # A test cloud: sessions shorter than STS's floor, to rehearse renewals.
            "aws_min_session_seconds": 300,
        }
        async with run_stack(temporal_env, tmp_path_factory.mktemp("cloud"), **settings) as stack:
            root = await stack.http("root", ["space-admin"])
            made = await root.post(
                "/api/v1/integrations",
                json={
                    "name": "acme-prod",
                    "settings": {
                        "role_arn": WRITER,
                        "read_role_arn": READER,
                        "region": REGION,
                        "endpoint": proxy.url,
                    },
                },
            )
            assert made.status_code == 201, made.text
            shown = made.json()["settings"]
            assert shown["account_id"] == ACCOUNT and shown["external_id"].startswith("intent-")
            # Each role gets the trust policy intent shows, as an AWS admin would paste it.
            trust = json.dumps(shown["trust_policy"])
            assert worker["Arn"] in trust and shown["external_id"] in trust
            for name, actions in (
                ("intent-writer", ["s3:*"]),
                ("intent-reader", ["s3:Get*", "s3:List*"]),
            ):
                iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust)
                iam.put_role_policy(
                    RoleName=name, PolicyName="scope", PolicyDocument=json.dumps(_allow(actions))
                )
            iam_moto.enforce_iam()
            auditor = _client(iam_moto, "s3", seeing)
            yield Cloud(
                stack=stack,
                moto=iam_moto,
                proxy=proxy,
                worker_key=key,
                auditor=auditor,
                root=root,
                logs=records,
                runtime_dir=provider_runtime_dir,
            )
    root_logger.removeHandler(records)
    root_logger.setLevel(level)


def _allow(actions: list[str]) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}],
    }


def _client(moto: MotoServer, service: str, key: dict[str, str]) -> Any:
    import boto3

    return boto3.client(
        service,
        endpoint_url=moto.url,
        region_name=REGION,
        aws_access_key_id=key["AccessKeyId"],
        aws_secret_access_key=key["SecretAccessKey"],
    )


def _bucket(resource_id: str, bucket: str) -> dict[str, Any]:
    return {
        "resource_id": resource_id,
        "resource_type": "aws_s3_bucket",
        "config": {"bucket": bucket},
    }


async def _project(cloud: Cloud, name: str, *, read: bool = True, write: bool = True) -> None:
    """A project of alice's (space-writer) with acme-prod attached through MCP."""
    await cloud.ok("alice", "project-create", {"name": name})
    await cloud.ok("alice", "project-use", {"project": name})
    listed = await cloud.ok("alice", "integration-list", {"project": name})
    assert listed["project"] == name and listed["attached"] == []
    assert "acme-prod" in [i["name"] for i in listed["available"]]
    attached = await cloud.ok(
        "alice",
        "integration-attach",
        {
            "project": name,
            "integration": "acme-prod",
            "region": REGION,
            "read": read,
            "write": write,
        },
    )
    assert (attached["account_id"], attached["read"], attached["write"]) == (ACCOUNT, read, write)


def _ulid(change_id: str) -> str:
    return change_id.rsplit("-", 1)[-1]


async def test_a_change_acts_with_its_own_role_sessions(cloud: Cloud) -> None:
    policy = await cloud.rest(
        "POST", "/api/v1/policies", json={"name": "acme-only", "body": POLICY}
    )
    assert policy.status_code == 201, policy.text
    await _project(cloud, "shop")
    assert (await cloud.rest("PUT", "/api/v1/projects/shop/policies/acme-only")).status_code == 200
    started = time.time()
    created = await cloud.ok(
        "alice",
        "lifecycle-resources-create",
        {"project": "shop", "resources": [_bucket("assets", "shop-assets")]},
    )
    assert created["status"] == "applied", created
    assert "shop-assets" in cloud.buckets()

    # As moto records them: a read and a write session, each named after the change and
    # alice, with the integration's external id.
    ulid = _ulid(created["change_id"])
    sessions = cloud.sessions()
    ours = [s for s in sessions.values() if ulid in s["session_name"]]
    assert {s["role_arn"] for s in ours} == {READER, WRITER}
    for session in ours:
        assert session["session_name"] == f"intent-{ulid}-alice"
        assert session["external_id"].startswith("intent-")
        assert session["arn"].endswith(f"/intent-{ulid}-alice")

    # The provider signed with them: the bucket was created with the write role's
    # credentials (a session token with each request); the plan read with the read role.
    signed = cloud.proxy.signed(since=started)
    creates = [
        r
        for r in signed
        if r.service == "s3" and r.method == "PUT" and r.path.strip("/") == "shop-assets"
    ]
    assert creates
    for request in creates:
        assert sessions[request.access_key_id]["role_arn"] == WRITER and request.session_token
    reads = [r for r in signed if sessions.get(r.access_key_id, {}).get("role_arn") == READER]
    assert reads and all(r.session_token for r in reads)
    # The worker's own key only ever asked STS for sessions.
    mine = [r for r in cloud.proxy.signed() if r.access_key_id == cloud.worker_key["AccessKeyId"]]
    assert mine and {r.service for r in mine} == {"sts"}

    # No provider got a credential in its environment, least of all the worker's own.
    providers = [pid for pid in provider_pids(cloud.runtime_dir) if _environ(pid, cloud.proxy.url)]
    assert providers
    for pid in providers:
        environ = _environ(pid, cloud.proxy.url)
        assert b"AWS_CONTAINER_CREDENTIALS_FULL_URI=http://127.0.0.1:" in environ
        assert b"AWS_SECRET_ACCESS_KEY" not in environ and b"AWS_SESSION_TOKEN" not in environ
        assert cloud.worker_key["SecretAccessKey"].encode() not in environ

    # A data read acts with the read role, in a session named after who asked.
    read = await cloud.ok(
        "alice",
        "lifecycle-datasources-read",
        {"project": "shop", "data_source": "aws_caller_identity"},
    )
    assert json.dumps(read).count("assumed-role/intent-reader/intent-read-alice") >= 1, read

    # Policies saw the integration.
    samples = (await cloud.rest("GET", "/api/v1/policies/acme-only/samples")).json()
    assert samples[0]["input"]["integration"] == {
        "name": "acme-prod",
        "kind": "aws",
        "provider": "hashicorp/aws",
        "account_id": ACCOUNT,
        "region": REGION,
        "read": True,
        "write": True,
    }
    assert samples[0]["result"]["allow"] == ["acme's account"]


def _environ(pid: int, marker: str) -> bytes:
    try:
        environ = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return b""
    return environ if marker.encode() in environ else b""


async def test_the_read_role_alone_cannot_create(cloud: Cloud) -> None:
    await _project(cloud, "reads")
    planned = await cloud.ok(
        "alice",
        "resource-plan",
        {"project": "reads", "operations": [{"kind": "create", **_bucket("b", "reads-b")}]},
    )
    assert planned["status"] == "planned", planned
    ulid = _ulid(planned["change_id"])
    assert {s["role_arn"] for s in cloud.sessions().values() if ulid in s["session_name"]} == {
        READER
    }
    # Where moto enforces IAM: with the read role as its write role, the apply is denied.
    swapped = await cloud.rest(
        "PATCH", "/api/v1/integrations/acme-prod", json={"settings": {"role_arn": READER}}
    )
    assert swapped.status_code == 200, swapped.text
    try:
        created = await cloud.ok(
            "alice",
            "lifecycle-resources-create",
            {"project": "reads", "resources": [_bucket("b", "reads-b")]},
        )
    finally:
        restored = await cloud.rest(
            "PATCH", "/api/v1/integrations/acme-prod", json={"settings": {"role_arn": WRITER}}
        )
        assert restored.status_code == 200
    assert created["status"] == "failed", created
    assert "AccessDenied" in json.dumps(created) or "Access Denied" in json.dumps(created)
    assert "reads-b" not in cloud.buckets()


async def test_switches_are_enforced_before_any_provider_runs(cloud: Cloud) -> None:
    await _project(cloud, "careful", write=False)
    planned = await cloud.ok(
        "alice",
        "resource-plan",
        {"project": "careful", "operations": [{"kind": "create", **_bucket("b", "careful-b")}]},
    )
    assert planned["status"] == "planned", planned
    refused = await cloud.ok(
        "alice",
        "lifecycle-resources-create",
        {"project": "careful", "resources": [_bucket("b", "careful-b")]},
    )
    assert refused["status"] == "failed", refused
    error = refused["operations"][0]["error"]
    assert "integration acme-prod has Write off" in error and "--write" in error
    assert "careful-b" not in cloud.buckets()
    ulid = _ulid(refused["change_id"])
    roles = {s["role_arn"] for s in cloud.sessions().values() if ulid in s["session_name"]}
    assert roles == {READER}, "the write role is never assumed with Write off"

    # The fix the message names: turn Write on, retry the change.
    await cloud.ok(
        "alice",
        "integration-attach",
        {"project": "careful", "integration": "acme-prod", "read": True, "write": True},
    )
    retried = await cloud.ok("alice", "change-retry", {"change_id": refused["change_id"]})
    assert retried["status"] == "applied", retried
    assert "careful-b" in cloud.buckets()

    # Read off: nothing plans against that cloud at all.
    await cloud.ok(
        "alice",
        "integration-attach",
        {"project": "careful", "integration": "acme-prod", "read": False, "write": True},
    )
    blind = await cloud.ok(
        "alice",
        "lifecycle-resources-create",
        {"project": "careful", "resources": [_bucket("c", "careful-c")]},
    )
    assert blind["status"] in ("failed", "invalid"), blind
    assert "has Read off" in json.dumps(blind)
    ulid = _ulid(blind["change_id"])
    assert not [s for s in cloud.sessions().values() if ulid in s["session_name"]]
    assert "careful-c" not in cloud.buckets()


async def test_failures_name_the_fix(cloud: Cloud) -> None:
    # No integration attached.
    await cloud.ok("alice", "project-create", {"name": "bare"})
    await cloud.ok("alice", "project-use", {"project": "bare"})
    bare = await cloud.ok(
        "alice",
        "lifecycle-resources-create",
        {"project": "bare", "resources": [_bucket("b", "bare-b")]},
    )
    assert "has no hashicorp/aws integration attached" in json.dumps(bare), bare
    assert "integration-attach" in json.dumps(bare)

    # The region asked for is not the integration's.
    await _project(cloud, "regional")
    failed, text = await cloud.tool(
        "alice",
        "lifecycle-resources-create",
        {"project": "regional", "resources": [_bucket("b", "regional-b")], "region": "eu-west-1"},
    )
    assert failed and "asks for region eu-west-1" in str(text)
    assert "attached with region us-east-1" in str(text)

    # A wrong external id: another integration for the same roles, whose external id
    # their trust policy does not name.
    other = await cloud.rest(
        "POST",
        "/api/v1/integrations",
        json={
            "name": "acme-impostor",
            "settings": {"role_arn": WRITER, "read_role_arn": READER, "endpoint": cloud.proxy.url},
        },
    )
    assert other.status_code == 201, other.text
    await cloud.ok(
        "alice",
        "integration-attach",
        {"project": "regional", "integration": "acme-impostor", "write": True},
    )
    denied = await cloud.ok(
        "alice",
        "lifecycle-resources-create",
        {"project": "regional", "resources": [_bucket("b", "regional-b")]},
    )
    message = json.dumps(denied)
    assert denied["status"] in ("failed", "invalid"), denied
    assert f"AWS refused to let intent assume role {READER}" in message
    assert "external id" in message and "intent integrations show acme-impostor" in message
    assert "regional-b" not in cloud.buckets()


async def test_a_long_apply_renews_its_credentials(cloud: Cloud) -> None:
    """A short session (305 s, the SDK asks again 5 minutes before expiry) stands in for
    an hour-long one; the proxy stretches the apply over several renewals."""
    await _project(cloud, "patient")
    shortened = await cloud.rest(
        "PATCH", "/api/v1/integrations/acme-prod", json={"settings": {"session_seconds": 305}}
    )
    assert shortened.status_code == 200, shortened.text
    cloud.proxy.delay = 0.8
    started = time.time()
    try:
        created = await cloud.ok(
            "alice",
            "lifecycle-resources-create",
            {"project": "patient", "resources": [_bucket("b", "patient-b")]},
        )
    finally:
        cloud.proxy.delay = 0.0
        await cloud.rest(
            "PATCH", "/api/v1/integrations/acme-prod", json={"settings": {"session_seconds": 3600}}
        )
    assert created["status"] == "applied", created
    assert "patient-b" in cloud.buckets()
    sessions = cloud.sessions()
    ulid = _ulid(created["change_id"])
    applying = [
        r
        for r in cloud.proxy.signed("s3", since=started)
        if sessions.get(r.access_key_id, {}).get("role_arn") == WRITER
    ]
    keys = list(dict.fromkeys(r.access_key_id for r in applying))
    assert len(keys) >= 2, f"one apply, {len(applying)} S3 calls, {len(keys)} credentials"
    for key in keys:  # every renewal: the same role session, new credentials
        assert sessions[key]["session_name"] == f"intent-{ulid}-alice"
    # In order: once renewed, the provider never went back to older credentials.
    order = [keys.index(r.access_key_id) for r in applying]
    assert order == sorted(order)


async def test_expired_worker_credentials_name_the_fix(cloud: Cloud) -> None:
    await _project(cloud, "expiring")
    # The worker's own credentials have expired before a change: nothing runs.
    cloud.proxy.sts_error = "ExpiredToken"
    try:
        stopped = await cloud.ok(
            "alice",
            "lifecycle-resources-create",
            {"project": "expiring", "resources": [_bucket("a", "expiring-a")]},
        )
    finally:
        cloud.proxy.sts_error = None
    fix = "the worker's own AWS credentials have expired; renew them where the worker runs"
    assert stopped["status"] == "invalid" and fix in json.dumps(stopped), stopped
    assert "expiring-a" not in cloud.buckets()
    again = await cloud.ok(
        "alice",
        "lifecycle-resources-create",
        {"project": "expiring", "resources": [_bucket("a", "expiring-a")]},
    )
    assert again["status"] == "applied", again


async def test_credentials_never_show(cloud: Cloud) -> None:
    """Every credential STS issued in this module (and the worker's own): not in tool
    or REST output, history, Temporal, logs, or any byte of the data directory."""
    issued = cloud.moto.assumed_roles()
    assert len(issued) >= 6
    secrets = [cloud.worker_key["SecretAccessKey"], cloud.worker_key["AccessKeyId"]]
    for session in issued:
        secrets += [session["secret_access_key"], session["session_token"]]
        secrets.append(session["access_key_id"])
    for path in ("/api/v1/projects/shop/history?limit=200", "/api/v1/integrations"):
        await cloud.rest("GET", path)
    texts = [*cloud.outputs, *await temporal_histories(cloud.stack), *cloud.logs.lines]
    assert any("assume" in line.lower() or "renewed" in line for line in cloud.logs.lines)
    files = data_files(cloud.stack)
    assert any(p.name == "intent.db" for p in files)
    assert_absent(secrets, texts, files)
