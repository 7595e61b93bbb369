"""The credential-source rule itself (access/credentials.py), case by case."""

from __future__ import annotations

import pytest

from access.credentials import admin_only_attributes, variable_rule


@pytest.mark.parametrize(
    ("name", "rule"),
    [
        ("AWS_REGION", "member"),
        ("AWS_SECRET_ACCESS_KEY", "member"),
        ("aws_region", "admin"),  # only the exact spelling providers read is on the list
        ("AWS_ENDPOINT_URL", "admin"),
        ("AWS_ENDPOINT_URL_S3", "admin"),
        ("AWS_PROFILE", "admin"),
        ("AWS_SHARED_CREDENTIALS_FILE", "admin"),
        ("GODEBUG", "admin"),
        ("SSLKEYLOGFILE", "admin"),
        ("HTTPS_PROXY", "admin"),
        ("TF_LOG", "admin"),
        ("STAGE", "admin"),
        ("LD_PRELOAD", "reserved"),
        ("PATH", "reserved"),
        ("HOME", "reserved"),
        ("INTENT_SECRET_KEY", "reserved"),
        ("intent_secret_key", "reserved"),
        ("PLUGIN_PROTOCOL_VERSIONS", "reserved"),
        ("TF_REATTACH_PROVIDERS", "reserved"),
    ],
)
def test_variables(name: str, rule: str) -> None:
    assert variable_rule(name) == rule


def test_variable_names_are_checked() -> None:
    for bad in ("", "1ABC", "A-B", "A B", "x" * 300):
        with pytest.raises(ValueError, match="not a valid variable name"):
            variable_rule(bad)


def test_attributes_at_any_depth() -> None:
    config = {
        "region": "eu-west-1",
        "access_key": "AK",
        "profile": "",  # empty: points nowhere
        "assume_role": [{"role_arn": "arn:aws:iam::1:role/x", "session_name": "s"}],
        "assume_role_with_web_identity": {"web_identity_token_file": "/var/run/token"},
        "endpoints": [{"s3": "http://x"}],
        "default_tags": {"tags": {"endpoint": "not a pointer: a tag value"}},
    }
    assert admin_only_attributes(config) == [
        "assume_role_with_web_identity.web_identity_token_file",
        "endpoints",
    ]
    assert admin_only_attributes({"region": "us-east-1", "skip_tls_verify": True}) == [
        "skip_tls_verify"
    ]
