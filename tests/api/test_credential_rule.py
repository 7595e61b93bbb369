"""The credential-source rule itself (access/credentials.py), case by case."""

from __future__ import annotations

import pytest

from access.credentials import (
    admin_only_attributes,
    admin_only_settings,
    local_file_paths,
    must_be_secret,
    variable_rule,
)


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
        "assume_role",
        "assume_role_with_web_identity",
        "endpoints",
    ]
    assert admin_only_attributes({"region": "us-east-1", "skip_tls_verify": True}) == [
        "skip_tls_verify"
    ]


@pytest.mark.parametrize(
    "config",
    [
        {"skip_metadata_api_check": "false"},  # the host's instance credentials, back on
        {"assume_role": [{"role_arn": "arn:aws:iam::2:role/OrgAdmin"}]},
        {"allowed_account_ids": ["111111111111"]},
        {"exec": [{"command": "sh", "args": ["-c", "id"]}]},  # kubernetes / helm
        {"host": "https://10.0.0.1"},
        {"vault_address": "http://vault.internal:8200"},
    ],
)
def test_attributes_that_widen_access_need_an_admin(config: dict[str, object]) -> None:
    assert admin_only_attributes(config) == list(config)


def test_what_a_member_must_leave_alone_is_compared_by_value() -> None:
    stored = {"region": "eu-west-1", "allowed_account_ids": ["1"], "assume_role": [{"a": "x"}]}
    assert admin_only_settings(stored) == {
        "allowed_account_ids": ["1"],
        "assume_role": [{"a": "x"}],
    }
    assert admin_only_settings({"region": "us-east-1"}) == {}


@pytest.mark.parametrize(
    ("config", "found"),
    [
        ({"bucket": "b", "source": "/var/lib/intent/secret.key"}, ["source"]),
        ({"filename": "../../etc/passwd"}, ["filename"]),
        ({"source": "~/.aws/credentials"}, ["source"]),
        ({"nested": [{"output_path": "/tmp/x.zip"}]}, ["nested[0].output_path"]),
        ({"source": "bucket/key"}, []),  # aws_s3_object_copy: an S3 path, not a file
        ({"source": "upload.txt"}, []),  # relative: inside the provider's empty home
        ({"tags": {"source": "/etc/passwd"}}, []),  # the user's own data
        ({"content": "/etc/passwd"}, []),  # content is content
    ],
)
def test_files_on_the_worker_host(config: dict[str, object], found: list[str]) -> None:
    assert local_file_paths(config) == found


def test_credential_variables_are_always_secret() -> None:
    assert must_be_secret("AWS_SECRET_ACCESS_KEY") and must_be_secret("GITHUB_TOKEN")
    assert must_be_secret("ARM_CLIENT_SECRET") and must_be_secret("DB_PASSWORD")
    assert not must_be_secret("AWS_REGION")
