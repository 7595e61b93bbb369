"""The ``aws`` kind: IAM roles intent assumes for each change.

Stored configuration: ``role_arn`` (for writes), optional ``read_role_arn`` (plans,
refreshes, imports, data reads; default the write role), ``external_id`` (generated
by intent, never chosen by a caller: it is what lets the role's trust policy tell this
integration from anyone else who uses intent's worker principal), ``region`` (the
default for attachments), ``session_seconds`` and, set by an admin, ``endpoint`` (an
AWS-compatible API such as moto or LocalStack). The sandbox is an integration of this
kind with ``sandbox`` set: its endpoint is the local moto server intent runs.

Pure: the server checks and shows configurations with it; the worker names sessions.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from integrations.kinds import (
    Access,
    IntegrationInvalid,
    IntegrationKind,
    KindRules,
    ProviderSetup,
    check_region,
)

__all__ = [
    "AWS_PROVIDER",
    "MAX_SESSION_SECONDS",
    "ROLE_ARN_PATTERN",
    "SANDBOX_ROLE_ARN",
    "AwsKind",
    "OnBehalf",
    "account_of",
    "role_for",
    "sandbox_config",
    "sandbox_provider_config",
    "session_name",
    "session_tags",
    "trust_policy",
]

AWS_PROVIDER = "hashicorp/aws"
ROLE_ARN_PATTERN = r"^arn:aws(-[a-z]+)*:iam::(\d{12}):role/[\w+=,.@/-]{1,512}$"
MAX_SESSION_SECONDS = 43200  # what STS allows a role at most
DEFAULT_SESSION_SECONDS = 3600
# moto's default account: the sandbox role lives there.
SANDBOX_ROLE_ARN = "arn:aws:iam::123456789012:role/intent-sandbox"
# Until an admin names it (INTENT_AWS_PRINCIPAL_ARN), trust policies show a placeholder.
PRINCIPAL_PLACEHOLDER = "arn:aws:iam::<intent's account>:role/<the role intent's worker runs as>"

_GIVEN = frozenset({"role_arn", "read_role_arn", "region", "session_seconds", "endpoint"})
_SESSION_NAME_CHARS = re.compile(r"[^\w+=,.@-]")
_TAG_VALUE_CHARS = re.compile(r"[^\w .:/=+@-]")


def account_of(role_arn: str) -> str | None:
    match = re.match(ROLE_ARN_PATTERN, role_arn)
    return match.group(2) if match else None


def _role_arn(value: Any, field_name: str) -> str:
    if not isinstance(value, str) or not re.match(ROLE_ARN_PATTERN, value):
        raise IntegrationInvalid(
            f"{field_name} must be an IAM role ARN such as "
            "arn:aws:iam::123456789012:role/intent-writer"
        )
    return value


def _endpoint(value: Any) -> str:
    parts = urlsplit(value) if isinstance(value, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise IntegrationInvalid(
            "endpoint must be the http(s) URL of an AWS-compatible API, e.g. http://127.0.0.1:4566"
        )
    return str(value).rstrip("/")


def _session_seconds(value: Any, rules: KindRules) -> int:
    low = rules.min_session_seconds
    if (
        isinstance(value, bool)
        or not isinstance(value, int)
        or not low <= value <= MAX_SESSION_SECONDS
    ):
        raise IntegrationInvalid(
            f"session_seconds must be a whole number from {low} to {MAX_SESSION_SECONDS} "
            "(and at most the role's maximum session duration)"
        )
    return int(value)


def new_external_id() -> str:
    return f"intent-{secrets.token_hex(16)}"


def sandbox_config(region: str) -> dict[str, Any]:
    """The sandbox integration's configuration (intent's own; see the module docstring)."""
    return {
        "role_arn": SANDBOX_ROLE_ARN,
        "read_role_arn": None,
        "external_id": new_external_id(),
        "region": region,
        "session_seconds": DEFAULT_SESSION_SECONDS,
        "endpoint": None,
        "sandbox": True,
    }


def sandbox_provider_config(region: str) -> dict[str, Any]:
    """hashicorp/aws settings for the local moto server (path-style S3, no account or
    region lookups it cannot answer like AWS)."""
    return {
        "region": region,
        "s3_use_path_style": True,
        "skip_credentials_validation": True,
        "skip_requesting_account_id": True,
        "skip_metadata_api_check": "true",
        "skip_region_validation": True,
    }


def role_for(config: Mapping[str, Any], access: Access) -> str:
    """Plans, refreshes, imports and reads use the read role (if there is one); only
    apply uses the write role."""
    if access == "read" and config.get("read_role_arn"):
        return str(config["read_role_arn"])
    return str(config["role_arn"])


def trust_policy(config: Mapping[str, Any], principal: str | None) -> dict[str, Any]:
    """The trust policy each of the integration's roles needs: intent's worker may
    assume it (and tag the session) only with this integration's external id."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": principal or PRINCIPAL_PLACEHOLDER},
                "Action": ["sts:AssumeRole", "sts:TagSession"],
                "Condition": {"StringEquals": {"sts:ExternalId": config["external_id"]}},
            }
        ],
    }


@dataclass(frozen=True)
class OnBehalf:
    """Whose work a session is for: the cloud's own audit log names it."""

    actor: str
    project: str
    space: str
    change_id: str | None = None


def session_name(who: OnBehalf) -> str:
    """``intent-<change ulid>-<actor>`` (``intent-read-<actor>`` outside a change), in
    STS's alphabet and at most 64 characters."""
    what = who.change_id.rsplit("-", 1)[-1] if who.change_id else "read"
    actor = _SESSION_NAME_CHARS.sub("-", who.actor) or "unknown"
    return f"intent-{what}-{actor}"[:64]


def session_tags(who: OnBehalf) -> list[dict[str, str]]:
    """Session tags (the role's trust policy must allow ``sts:TagSession``)."""
    tags = {"intent:project": who.project, "intent:space": who.space, "intent:actor": who.actor}
    if who.change_id:
        tags["intent:change"] = who.change_id
    return [{"Key": k, "Value": _TAG_VALUE_CHARS.sub("-", v)[:256]} for k, v in tags.items()]


class AwsKind(IntegrationKind):
    name = "aws"
    title = "AWS (IAM roles assumed per change)"
    supplies_credentials = True

    def provider(self, config: Mapping[str, Any]) -> str:
        return AWS_PROVIDER

    def normalise(
        self, given: Mapping[str, Any], previous: Mapping[str, Any] | None, rules: KindRules
    ) -> dict[str, Any]:
        given = dict(given)
        rotate = bool(given.pop("rotate_external_id", False))
        if "external_id" in given:
            raise IntegrationInvalid(
                "intent generates the external id (so nobody can reuse another "
                "integration's); to get a new one, update with rotate_external_id: true"
            )
        unknown = sorted(set(given) - _GIVEN)
        if unknown:
            raise IntegrationInvalid(
                f"an aws integration has no {', '.join(unknown)}; it takes "
                f"{', '.join(sorted(_GIVEN))}"
            )
        merged: dict[str, Any] = {
            "read_role_arn": None,
            "region": "us-east-1",
            "session_seconds": DEFAULT_SESSION_SECONDS,
            "endpoint": None,
            **(previous or {}),
            **given,
        }
        if previous is None and "role_arn" not in given:
            raise IntegrationInvalid(
                "an aws integration needs role_arn: the IAM role intent assumes to apply "
                "changes (and read_role_arn for a separate read-only role)"
            )
        stored: dict[str, Any] = {
            "role_arn": _role_arn(merged.get("role_arn"), "role_arn"),
            "read_role_arn": None
            if merged["read_role_arn"] in (None, "")
            else _role_arn(merged["read_role_arn"], "read_role_arn"),
            "region": check_region(merged["region"]),
            "session_seconds": _session_seconds(merged["session_seconds"], rules),
            "endpoint": None if merged["endpoint"] in (None, "") else _endpoint(merged["endpoint"]),
            "external_id": new_external_id()
            if rotate or not (previous or {}).get("external_id")
            else previous["external_id"],  # type: ignore[index]
        }
        if (previous or {}).get("sandbox"):
            stored["sandbox"] = True
        return stored

    def shown(self, config: Mapping[str, Any], rules: KindRules) -> dict[str, Any]:
        return {
            "role_arn": config.get("role_arn"),
            "read_role_arn": config.get("read_role_arn"),
            "external_id": config.get("external_id"),
            "region": config.get("region"),
            "session_seconds": config.get("session_seconds"),
            "endpoint": config.get("endpoint"),
            "sandbox": bool(config.get("sandbox")),
            "account_id": self.account(config),
            "trust_policy": trust_policy(config, rules.worker_principal),
        }

    def account(self, config: Mapping[str, Any]) -> str | None:
        return account_of(str(config.get("role_arn") or ""))

    def default_region(self, config: Mapping[str, Any]) -> str | None:
        region = config.get("region")
        return str(region) if region else None

    def provider_setup(
        self, config: Mapping[str, Any], region: str | None, *, sandbox_endpoint: str | None
    ) -> ProviderSetup:
        region = region or self.default_region(config) or "us-east-1"
        env = {"AWS_REGION": region}
        if config.get("sandbox"):
            if sandbox_endpoint is None:
                raise IntegrationInvalid(
                    "this project uses the sandbox AWS integration but the sandbox is off "
                    "on this server (INTENT_SANDBOX=false); attach a real AWS integration"
                )
            return ProviderSetup(
                sandbox_provider_config(region), {**env, "AWS_ENDPOINT_URL": sandbox_endpoint}
            )
        provider: dict[str, Any] = {"region": region}
        if config.get("endpoint"):
            # Virtual-host bucket names cannot resolve against a custom endpoint.
            provider["s3_use_path_style"] = True
            env["AWS_ENDPOINT_URL"] = str(config["endpoint"])
        return ProviderSetup(provider, env)
