"""The integration kinds and the credential-source rule on their own (pure)."""

from __future__ import annotations

import pytest

from access.credentials import has_own_credentials, superseded_variables
from integrations import KINDS, Attachment, IntegrationInvalid
from integrations.aws import OnBehalf, role_for, session_name, session_tags, trust_policy
from integrations.kinds import KindRules, region_conflict

AWS = KINDS["aws"]
STATIC = KINDS["static"]
RULES = KindRules()
WRITER = "arn:aws:iam::123456789012:role/writer"
READER = "arn:aws:iam::123456789012:role/path/reader"


def test_intent_generates_the_external_id_and_nobody_chooses_it() -> None:
    made = AWS.normalise({"role_arn": WRITER}, None, RULES)
    assert made["external_id"].startswith("intent-") and len(made["external_id"]) > 30
    assert made | {"external_id": "x"} == {
        "role_arn": WRITER,
        "read_role_arn": None,
        "region": "us-east-1",
        "session_seconds": 3600,
        "endpoint": None,
        "external_id": "x",
    }
    with pytest.raises(IntegrationInvalid, match="intent generates the external id"):
        AWS.normalise({"role_arn": WRITER, "external_id": "theirs"}, None, RULES)
    kept = AWS.normalise({"read_role_arn": READER}, made, RULES)
    assert kept["external_id"] == made["external_id"] and kept["read_role_arn"] == READER
    rotated = AWS.normalise({"rotate_external_id": True}, made, RULES)
    assert rotated["external_id"] != made["external_id"]
    assert AWS.normalise({}, made, RULES)["external_id"] == made["external_id"]


@pytest.mark.parametrize(
    ("given", "problem"),
    [
        ({}, "needs role_arn"),
        ({"role_arn": "writer"}, "role_arn must be an IAM role ARN"),
        ({"role_arn": "arn:aws:iam::12345:role/w"}, "role_arn must be an IAM role ARN"),
        ({"role_arn": WRITER, "read_role_arn": "arn:aws:s3:::b"}, "read_role_arn must be"),
        ({"role_arn": WRITER, "region": "Europe"}, "region must be a region name"),
        ({"role_arn": WRITER, "session_seconds": 600}, "from 900 to 43200"),
        ({"role_arn": WRITER, "session_seconds": 50000}, "from 900 to 43200"),
        ({"role_arn": WRITER, "session_seconds": True}, "from 900 to 43200"),
        ({"role_arn": WRITER, "endpoint": "ftp://x"}, "endpoint must be the http"),
        ({"role_arn": WRITER, "sandbox": True}, "has no sandbox"),
        ({"role_arn": WRITER, "access_key": "AKIA"}, "has no access_key"),
    ],
)
def test_aws_settings_are_checked_with_the_fix_named(
    given: dict[str, object], problem: str
) -> None:
    with pytest.raises(IntegrationInvalid, match=problem):
        AWS.normalise(given, None, RULES)


def test_a_lower_session_floor_is_the_admins_choice() -> None:
    test_cloud = KindRules(min_session_seconds=300)
    assert (
        AWS.normalise({"role_arn": WRITER, "session_seconds": 305}, None, test_cloud)[
            "session_seconds"
        ]
        == 305
    )


def test_roles_sessions_and_trust() -> None:
    config = AWS.normalise({"role_arn": WRITER, "read_role_arn": READER}, None, RULES)
    assert role_for(config, "read") == READER and role_for(config, "write") == WRITER
    alone = AWS.normalise({"role_arn": WRITER}, None, RULES)
    assert role_for(alone, "read") == WRITER
    who = OnBehalf(
        actor="ana maria@example.com",
        project="web",
        space="team",
        change_id="change-01HZY0000000000000000000AA-01HZY0000000000000000000BB",
    )
    assert session_name(who) == "intent-01HZY0000000000000000000BB-ana-maria@example.com"
    long = OnBehalf(actor="x" * 100, project="p", space="s")
    assert session_name(long).startswith("intent-read-") and len(session_name(long)) == 64
    assert {t["Key"]: t["Value"] for t in session_tags(who)} == {
        "intent:project": "web",
        "intent:space": "team",
        "intent:actor": "ana maria@example.com",
        "intent:change": who.change_id,
    }
    policy = trust_policy(config, "arn:aws:iam::111122223333:role/intent")
    statement = policy["Statement"][0]
    assert statement["Principal"] == {"AWS": "arn:aws:iam::111122223333:role/intent"}
    assert statement["Action"] == ["sts:AssumeRole", "sts:TagSession"]
    assert statement["Condition"] == {"StringEquals": {"sts:ExternalId": config["external_id"]}}
    shown = AWS.shown(config, RULES)
    assert shown["account_id"] == "123456789012" and "trust_policy" in shown


def test_what_a_provider_process_gets() -> None:
    config = AWS.normalise({"role_arn": WRITER, "region": "eu-west-1"}, None, RULES)
    setup = AWS.provider_setup(config, None, sandbox_endpoint=None)
    assert setup.config == {"region": "eu-west-1"} and setup.env == {"AWS_REGION": "eu-west-1"}
    moved = AWS.provider_setup(config, "eu-central-1", sandbox_endpoint=None)
    assert moved.config["region"] == "eu-central-1"
    local = AWS.normalise({"endpoint": "http://127.0.0.1:4566"}, config, RULES)
    setup = AWS.provider_setup(local, None, sandbox_endpoint=None)
    assert setup.config["s3_use_path_style"] is True
    assert setup.env["AWS_ENDPOINT_URL"] == "http://127.0.0.1:4566"
    sandbox = {**config, "sandbox": True}
    with pytest.raises(IntegrationInvalid, match="sandbox is off"):
        AWS.provider_setup(sandbox, None, sandbox_endpoint=None)
    setup = AWS.provider_setup(sandbox, None, sandbox_endpoint="http://127.0.0.1:5000")
    assert setup.env["AWS_ENDPOINT_URL"] == "http://127.0.0.1:5000"
    # No kind hands a credential through the process environment.
    assert not any("KEY" in name or "TOKEN" in name for name in setup.env)


def test_static_kind() -> None:
    made = STATIC.normalise(
        {"provider": "hashicorp/random", "config": {"secret_key": "s", "region": "eu-west-1"}},
        None,
        RULES,
    )
    assert STATIC.shown(made, RULES)["config"] == {"secret_key": "********", "region": "eu-west-1"}
    assert STATIC.provider(made) == "hashicorp/random"
    assert STATIC.default_region(made) == "eu-west-1"
    with pytest.raises(IntegrationInvalid, match="cannot change"):
        STATIC.normalise({"provider": "hashicorp/aws"}, made, RULES)
    with pytest.raises(IntegrationInvalid, match="needs provider"):
        STATIC.normalise({"config": {}}, None, RULES)


def test_facts_and_region_conflicts() -> None:
    config = AWS.normalise({"role_arn": WRITER, "region": "eu-west-1"}, None, RULES)
    facts = AWS.facts("prod", config, Attachment(region=None, read=True, write=False))
    assert facts.policy_input() == {
        "name": "prod",
        "kind": "aws",
        "provider": "hashicorp/aws",
        "account_id": "123456789012",
        "region": "eu-west-1",
        "read": True,
        "write": False,
    }
    assert region_conflict(None, facts, "web") is None
    assert region_conflict("eu-west-1", facts, "web") is None
    reason = region_conflict("us-east-1", facts, "web")
    assert reason is not None
    assert "asks for region us-east-1" in reason and "attached with region eu-west-1" in reason


def test_a_role_integration_is_the_only_credential_source() -> None:
    names = ["AWS_ACCESS_KEY_ID", "AWS_PROFILE", "AWS_ENDPOINT_URL_S3", "AWS_REGION", "STAGE"]
    assert superseded_variables("hashicorp/aws", names) == set(names) - {"STAGE"}
    assert superseded_variables("hashicorp/random", names) == set()
    assert has_own_credentials("hashicorp/aws", ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"])
    assert not has_own_credentials("hashicorp/aws", ["AWS_REGION"])
    assert has_own_credentials("hashicorp/random", [])
