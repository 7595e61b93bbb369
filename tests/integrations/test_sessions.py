"""The worker's role sessions and the endpoint providers fetch credentials from.

Renewal is checked in simulated time (a 70-minute apply in milliseconds) against a
stand-in STS; assuming roles is checked against moto's real STS API.
"""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import UTC, datetime

import httpx
import pytest

from integrations.aws import OnBehalf
from integrations.endpoint import CredentialEndpoint
from integrations.sessions import Credentials, CredentialsUnavailable, RoleSessions, SessionKey
from tests.support.moto import MotoServer

ROLE = "arn:aws:iam::123456789012:role/intent-writer"
CONFIG = {"role_arn": ROLE, "external_id": "intent-abc", "session_seconds": 3600}
WHO = OnBehalf(actor="alice", project="web", space="root", change_id="change-P-01CHANGE")
SDK_WINDOW = 300  # the AWS SDKs ask for credentials again this long before they expire


class SimulatedSTS(RoleSessions):
    """RoleSessions whose STS issues credentials on a simulated clock."""

    def __init__(self, **kwargs: object) -> None:
        self.now = 1_800_000_000.0
        super().__init__(clock=lambda: self.now, **kwargs)  # type: ignore[arg-type]
        self.issued = 0
        self.refuse: str | None = None

    def _assume(self, key: SessionKey) -> Credentials:
        if self.refuse:
            raise CredentialsUnavailable(self.refuse)
        self.issued += 1
        return Credentials(
            access_key_id=f"ASIA{self.issued:016d}",
            secret_access_key=f"secret-{self.issued}",
            session_token=f"token-{self.issued}",
            expiration=datetime.fromtimestamp(self.now + key.duration, UTC),
        )


def _key(duration: int = 3600, **config: object) -> SessionKey:
    return SessionKey.of(
        "acme",
        {**CONFIG, "session_seconds": duration, **config},
        "write",
        "us-east-1",
        WHO,
        sandbox_endpoint=None,
    )


@pytest.mark.parametrize(("duration", "issued"), [(900, 7), (3600, 2), (43200, 1)])
async def test_a_70_minute_apply_never_signs_with_expired_credentials(
    duration: int, issued: int
) -> None:
    sts = SimulatedSTS(renew_before=600)
    key = _key(duration)
    start, cached, seen = sts.now, None, set()
    for second in range(0, 70 * 60 + 1, 5):  # the provider calls AWS every 5 seconds
        sts.now = start + second
        if cached is None or cached.remaining(sts.now) < SDK_WINDOW:
            cached = await sts.credentials(key)
            seen.add(cached.access_key_id)
        assert cached.remaining(sts.now) > 0
    # Renewed only when the SDK asks, a little over every duration - 300 seconds.
    assert len(seen) == sts.issued == issued
    assert sts.renewals(key) == issued - 1


async def test_short_sessions_renew_whenever_the_sdk_asks() -> None:
    sts = SimulatedSTS(renew_before=600)
    key = _key(305)
    first = await sts.credentials(key)
    assert await sts.credentials(key) is first  # fresh: never renewed at once
    sts.now += 6  # now 299 s are left: the SDK asks, and gets new ones
    assert (await sts.credentials(key)).access_key_id != first.access_key_id


async def test_one_renewal_for_many_callers() -> None:
    sts = SimulatedSTS()
    key = _key()
    got = await asyncio.gather(*(sts.credentials(key) for _ in range(20)))
    assert sts.issued == 1 and len({c.access_key_id for c in got}) == 1
    other = SessionKey.of("acme", CONFIG, "read", "us-east-1", WHO, sandbox_endpoint=None)
    assert other.identity == key.identity  # no read role: reads use the write role
    who = OnBehalf(actor="bob", project="web", space="root", change_id="change-P-01OTHER")
    theirs = SessionKey.of("acme", CONFIG, "write", "us-east-1", who, sandbox_endpoint=None)
    assert theirs.identity != key.identity  # another change: another session


async def test_the_endpoint_serves_a_session_to_its_token_only(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    sts = SimulatedSTS()
    endpoint = CredentialEndpoint(sts)
    await endpoint.start()
    try:
        key = _key()
        env = await endpoint.provide(key)
        assert set(env) == {
            "AWS_CONTAINER_CREDENTIALS_FULL_URI",
            "AWS_CONTAINER_AUTHORIZATION_TOKEN",
        }
        url, token = (
            env["AWS_CONTAINER_CREDENTIALS_FULL_URI"],
            env["AWS_CONTAINER_AUTHORIZATION_TOKEN"],
        )
        assert url.startswith("http://127.0.0.1:")
        again = await endpoint.provide(key)  # the same session, the same process
        assert again["AWS_CONTAINER_AUTHORIZATION_TOKEN"] == token
        async with httpx.AsyncClient() as http:
            served = await http.get(url, headers={"Authorization": token})
            assert served.status_code == 200
            body = served.json()
            assert set(body) == {"AccessKeyId", "SecretAccessKey", "Token", "Expiration"}
            assert body["Token"] == "token-1" and body["Expiration"].endswith("Z")
            assert served.headers["cache-control"] == "no-store"
            other = token[:-1] + ("1" if token.endswith("0") else "0")
            for wrong in ("", other, "Bearer " + token):
                refused = await http.get(url, headers={"Authorization": wrong})
                assert refused.status_code == 403
            assert (await http.post(url, headers={"Authorization": token})).status_code == 404
            sts.now += 3600  # expired: renewal is asked for, and refused
            sts.refuse = "AWS refused to let intent assume role X: fix its trust policy"
            failed = await http.get(url, headers={"Authorization": token})
            assert failed.status_code == 503
            assert failed.json()["message"] == sts.refuse
            assert endpoint.failure(key) == sts.refuse
        assert endpoint.served(key) == 1
        logs = "\n".join(r.getMessage() for r in caplog.records)
        assert "secret-1" not in logs and "token-1" not in logs and token not in logs
        assert "trust policy" in logs  # the failure is logged, without a credential
    finally:
        await endpoint.aclose()


async def test_idle_expired_sessions_are_forgotten() -> None:
    sts = SimulatedSTS()
    endpoint = CredentialEndpoint(sts, idle_seconds=0)
    key = _key()
    token = (await endpoint.provide(key))["AWS_CONTAINER_AUTHORIZATION_TOKEN"]
    assert endpoint.sweep() == 0  # idle, but its credentials are still good
    sts.now += 7200
    assert endpoint.sweep() == 1 and sts.expired(key)
    assert endpoint.served(key) == 0 and token


async def test_assuming_a_role_against_sts(
    moto_server: MotoServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "worker")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "worker-secret")
    sessions = RoleSessions()
    key = _key(900, endpoint=moto_server.url)
    got = await sessions.credentials(key)
    assert (
        got.access_key_id.startswith("ASIA") and got.remaining(datetime.now(UTC).timestamp()) > 800
    )
    assert "secret" not in repr(got).lower() and got.session_token not in repr(got)
    recorded = [r for r in moto_server.assumed_roles() if r["access_key_id"] == got.access_key_id]
    assert recorded[0]["session_name"] == "intent-01CHANGE-alice"
    assert recorded[0]["external_id"] == "intent-abc" and recorded[0]["role_arn"] == ROLE

    # The worker without credentials of its own: the message says where they come from.
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/config")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    with pytest.raises(CredentialsUnavailable, match="no AWS credentials of its own"):
        await RoleSessions().credentials(key)

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "worker")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "worker-secret")
    gone = _key(900, endpoint="http://127.0.0.1:9")  # nothing listens there
    with pytest.raises(CredentialsUnavailable, match="cannot reach AWS STS"):
        await RoleSessions().credentials(gone)


def test_credentials_do_not_print() -> None:
    made = Credentials("ASIAX", "s3cr3t", "t0k3n", datetime(2030, 1, 1, tzinfo=UTC))
    assert "s3cr3t" not in repr(made) and "t0k3n" not in str(made) and "ASIAX" not in repr(made)
    assert json.dumps({"shown": repr(made)}).count("2030") == 1


@pytest.mark.parametrize(
    ("code", "message", "fix"),
    [
        ("AccessDenied", "not authorized", "trust policy must allow arn:aws:iam::1:user/w"),
        ("ExpiredToken", "expired", "the worker's own AWS credentials have expired"),
        ("InvalidClientTokenId", "bad", "does not accept the worker's own credentials"),
        ("ValidationError", "DurationSeconds exceeds", "raise the role's maximum session"),
        ("RegionDisabledException", "off", "STS is not activated in region us-east-1"),
        ("Throttling", "slow down", "Throttling: slow down"),
    ],
)
def test_sts_refusals_name_the_fix(code: str, message: str, fix: str) -> None:
    from botocore.exceptions import ClientError

    refused = ClientError({"Error": {"Code": code, "Message": message}}, "AssumeRole")
    said = RoleSessions(principal="arn:aws:iam::1:user/w")._explain(_key(), refused)
    assert fix in said and ROLE in said and "acme" in said
