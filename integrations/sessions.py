"""The worker's side of the ``aws`` kind: assume the integration's role with STS.

The worker's own credentials come from the standard AWS chain of its process
(environment, the worker user's shared files, a container or instance role) — never
from a user, a project or an integration. The sandbox's STS is the local moto server,
which takes any credentials: intent signs those calls with fixed, obviously fake ones.

Each session is named after the change and the actor and tagged with project and
space, so the cloud's own audit log attributes every call. Credentials are kept in
memory only, handed to the one provider process they were assumed for (through
``integrations.endpoint``), renewed when less than ``renew_before`` seconds are left,
and never stored, logged or returned to Temporal: errors name the role and the fix,
never a credential.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from integrations.aws import OnBehalf, role_for, session_name, session_tags
from integrations.kinds import Access

__all__ = [
    "SANDBOX_BASE_CREDENTIALS",
    "Credentials",
    "CredentialsUnavailable",
    "RoleSessions",
    "SessionKey",
]

log = logging.getLogger(__name__)

# moto accepts any signature; these are clearly not real credentials.
SANDBOX_BASE_CREDENTIALS = {"aws_access_key_id": "sandbox", "aws_secret_access_key": "sandbox"}
_STS_FLOOR = 900  # botocore refuses shorter sessions before asking
_FRESH_SECONDS = 5


class CredentialsUnavailable(RuntimeError):
    """No credentials for a session; the message names the role and the fix."""


@dataclass(frozen=True)
class Credentials:
    access_key_id: str = field(repr=False)
    secret_access_key: str = field(repr=False)
    session_token: str = field(repr=False)
    expiration: datetime

    def remaining(self, now: float) -> float:
        return self.expiration.timestamp() - now

    def __repr__(self) -> str:  # never a secret in a log line or a traceback
        return f"Credentials(expires {self.expiration.isoformat()})"


@dataclass(frozen=True)
class SessionKey:
    """One role session: which role, for whom, through which STS."""

    integration: str  # the integration's name, for messages
    role_arn: str
    external_id: str = field(repr=False)
    session_name: str
    tags: tuple[tuple[str, str], ...]
    duration: int
    region: str
    endpoint: str | None
    sandbox: bool

    @classmethod
    def of(
        cls,
        integration: str,
        config: Mapping[str, Any],
        access: Access,
        region: str,
        who: OnBehalf,
        *,
        sandbox_endpoint: str | None,
    ) -> SessionKey:
        sandbox = bool(config.get("sandbox"))
        return cls(
            integration=integration,
            role_arn=role_for(config, access),
            external_id=str(config["external_id"]),
            session_name=session_name(who),
            tags=tuple((t["Key"], t["Value"]) for t in session_tags(who)),
            duration=int(config.get("session_seconds") or 3600),
            region=region,
            endpoint=sandbox_endpoint if sandbox else config.get("endpoint"),
            sandbox=sandbox,
        )

    @property
    def identity(self) -> str:
        """A stable name for the session (the provider pool keys processes by it)."""
        parts = (
            self.role_arn,
            self.external_id,
            self.session_name,
            repr(self.tags),
            str(self.duration),
            self.region,
            str(self.endpoint),
        )
        return hashlib.sha256("\x00".join(parts).encode()).hexdigest()


@dataclass
class _Held:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    credentials: Credentials | None = None
    renewals: int = 0


class RoleSessions:
    """Assumed-role credentials per session, renewed before they expire."""

    def __init__(
        self,
        *,
        renew_before: float = 600.0,
        clock: Callable[[], float] = time.time,
        principal: str | None = None,
    ) -> None:
        self.renew_before = renew_before
        self.clock = clock
        self.principal = principal
        self._held: dict[str, _Held] = {}
        self._clients: dict[tuple[str | None, str, bool, bool], Any] = {}
        # botocore logs response bodies at DEBUG: STS's carry the credentials. Whatever
        # level intent runs at, the AWS SDK's own loggers stay above that.
        for name in ("botocore", "boto3"):
            sdk = logging.getLogger(name)
            if sdk.level < logging.INFO:
                sdk.setLevel(logging.INFO)

    async def credentials(self, key: SessionKey) -> Credentials:
        """Valid credentials for ``key``: the held ones while more than ``renew_before``
        seconds are left (for sessions shorter than that: while they are a few seconds
        old), else newly assumed."""
        held = self._held.setdefault(key.identity, _Held())
        async with held.lock:
            now = self.clock()
            margin = min(self.renew_before, key.duration - _FRESH_SECONDS)
            current = held.credentials
            if current is not None and current.remaining(now) > margin:
                return current
            held.credentials = fresh = await asyncio.to_thread(self._assume, key)
            if current is not None:
                held.renewals += 1
                log.info(
                    "renewed credentials of role %s (session %s, integration %s)",
                    key.role_arn,
                    key.session_name,
                    key.integration,
                )
            return fresh

    def renewals(self, key: SessionKey) -> int:
        held = self._held.get(key.identity)
        return held.renewals if held else 0

    def expired(self, key: SessionKey) -> bool:
        held = self._held.get(key.identity)
        current = held.credentials if held else None
        return current is None or current.remaining(self.clock()) <= 0

    def forget(self, key: SessionKey) -> None:
        self._held.pop(key.identity, None)

    # -- STS --------------------------------------------------------------------------

    def _client(self, key: SessionKey) -> Any:
        import boto3
        from botocore.config import Config

        short = key.duration < _STS_FLOOR  # only where an admin lowered the floor (tests)
        slot = (key.endpoint, key.region, key.sandbox, short)
        client = self._clients.get(slot)
        if client is None:
            session = boto3.session.Session(**(SANDBOX_BASE_CREDENTIALS if key.sandbox else {}))
            client = session.client(
                "sts",
                region_name=key.region,
                endpoint_url=key.endpoint,
                config=Config(
                    retries={"max_attempts": 3, "mode": "standard"},
                    connect_timeout=10,
                    read_timeout=30,
                    parameter_validation=not short,
                ),
            )
            self._clients[slot] = client
        return client

    def _assume(self, key: SessionKey) -> Credentials:
        from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

        try:
            answer = self._client(key).assume_role(
                RoleArn=key.role_arn,
                RoleSessionName=key.session_name,
                ExternalId=key.external_id,
                DurationSeconds=key.duration,
                Tags=[{"Key": k, "Value": v} for k, v in key.tags],
            )
        except NoCredentialsError:
            raise CredentialsUnavailable(
                f"intent's worker has no AWS credentials of its own to assume role "
                f"{key.role_arn} (integration {key.integration}) with: give the worker "
                "credentials through the standard AWS chain where it runs (environment, the "
                "worker user's ~/.aws, or a container or instance role)"
            ) from None
        except ClientError as exc:
            raise CredentialsUnavailable(self._explain(key, exc)) from None
        except BotoCoreError as exc:
            raise CredentialsUnavailable(
                f"cannot reach AWS STS to assume role {key.role_arn} (integration "
                f"{key.integration}): {type(exc).__name__}; check the worker's network "
                "access to STS, then try the change again"
            ) from None
        raw = answer["Credentials"]
        expiration = raw["Expiration"]
        if expiration.tzinfo is None:
            expiration = expiration.replace(tzinfo=UTC)
        return Credentials(
            access_key_id=raw["AccessKeyId"],
            secret_access_key=raw["SecretAccessKey"],
            session_token=raw["SessionToken"],
            expiration=expiration,
        )

    def _explain(self, key: SessionKey, exc: Any) -> str:
        error = exc.response.get("Error", {})
        code = str(error.get("Code", ""))
        role = f"role {key.role_arn} (integration {key.integration})"
        who = self.principal or "the principal intent's worker runs as"
        if code in ("AccessDenied", "AccessDeniedException"):
            return (
                f"AWS refused to let intent assume {role}: the role's trust policy must allow "
                f"{who} sts:AssumeRole and sts:TagSession with this integration's external id "
                f"(`intent integrations show {key.integration}` prints the policy); a wrong or "
                "rotated external id, or a trust policy naming another principal, causes this"
            )
        if code in ("ExpiredToken", "ExpiredTokenException", "RequestExpired"):
            return (
                f"intent's worker could not assume {role}: the worker's own AWS credentials "
                "have expired; renew them where the worker runs (its standard AWS chain), "
                "then try the change again"
            )
        if code in ("InvalidClientTokenId", "SignatureDoesNotMatch", "UnrecognizedClientException"):
            return (
                f"intent's worker could not assume {role}: AWS does not accept the worker's "
                "own credentials; fix them where the worker runs (its standard AWS chain), "
                "then try the change again"
            )
        if code == "ValidationError" and "DurationSeconds" in str(error.get("Message", "")):
            return (
                f"AWS refused a {key.duration}-second session for {role}: lower the "
                "integration's session_seconds or raise the role's maximum session duration"
            )
        if code == "RegionDisabledException":
            return (
                f"STS is not activated in region {key.region} for {role}: activate it in the "
                "account, or attach the integration with another region"
            )
        return (
            f"AWS refused to let intent assume {role}: {code or 'error'}: "
            f"{str(error.get('Message', ''))[:300]}"
        )
