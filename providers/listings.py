"""Which of a provider's data sources lists the existing objects of a resource type.

Discovery (``resource-discover``) reads one of these "listing" data sources with the
project's credentials and turns what it returns into import candidates: the import id,
a one-line summary and a name to suggest a resource id from. Only ids and names are
taken from the listing; values (an SSM parameter's, say) are never read or returned.

Pure data and functions: the server validates a discovery request against this catalog
before any workflow starts; the worker reads the data source.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["LISTINGS", "Found", "Listing", "listing_for", "suggest_resource_id"]


@dataclass(frozen=True)
class Found:
    import_id: str
    name: str
    summary: str


@dataclass(frozen=True)
class Listing:
    resource_type: str
    data_source: str
    # filter name → (data source attribute it sets, what it means); "prefix" is always
    # offered too and narrows by name after the read.
    filters: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    defaults: Mapping[str, Any] = field(default_factory=dict)
    found: Callable[[Mapping[str, Any]], list[Found]] = lambda _: []
    note: str = ""

    @property
    def provider(self) -> str:
        return f"hashicorp/{self.resource_type.split('_', 1)[0]}"

    def config(self, filters: Mapping[str, str]) -> dict[str, Any]:
        """The data source config for ``filters`` (names already checked by ``problems``)."""
        config = dict(self.defaults)
        for name, value in filters.items():
            if name in self.filters:
                config[self.filters[name][0]] = value
        return config

    def problems(self, filters: Mapping[str, str]) -> list[str]:
        known = {*self.filters, "prefix"}
        return [
            f"{name!r} is not a filter for {self.resource_type} (use {', '.join(sorted(known))})"
            for name in filters
            if name not in known
        ]


def _strings(state: Mapping[str, Any], name: str) -> list[str]:
    value = state.get(name) or []
    return [str(v) for v in value if isinstance(v, str)]


def _names(kind: str, names: str) -> Any:
    """Found objects imported by name."""

    def found(state: Mapping[str, Any]) -> list[Found]:
        return [Found(import_id=n, name=n, summary=f"{kind} {n}") for n in _strings(state, names)]

    return found


def _secrets(state: Mapping[str, Any]) -> list[Found]:
    """Secrets import by ARN, whose last part is the name plus a 6-character suffix."""
    out = []
    for arn in _strings(state, "arns"):
        name = arn.rsplit(":", 1)[-1]
        name = name[:-7] if len(name) > 7 and name[-7] == "-" else name
        out.append(Found(import_id=arn, name=name, summary=f"secret {name}"))
    return out


def _ids(kind: str) -> Any:
    def found(state: Mapping[str, Any]) -> list[Found]:
        return [Found(import_id=i, name=i, summary=f"{kind} {i}") for i in _strings(state, "ids")]

    return found


def _ssm_parameters(state: Mapping[str, Any]) -> list[Found]:
    names, types = _strings(state, "names"), _strings(state, "types")
    return [
        Found(import_id=name, name=name, summary=f"{kind} parameter {name}")
        for name, kind in zip(names, types + [""] * (len(names) - len(types)), strict=False)
    ]


def _tagged_buckets(state: Mapping[str, Any]) -> list[Found]:
    out = []
    for item in state.get("resource_tag_mapping_list") or []:
        arn = str(item.get("resource_arn") or "")
        name = arn.split(":::", 1)[-1]
        if not arn.startswith("arn:") or not name or "/" in name:
            continue
        tags = item.get("tags") or {}
        shown = ", ".join(f"{k}={v}" for k, v in sorted(tags.items())[:5])
        out.append(Found(import_id=name, name=name, summary=f"bucket {name} ({shown})"))
    return out


def _queues(state: Mapping[str, Any]) -> list[Found]:
    return [
        Found(import_id=url, name=url.rsplit("/", 1)[-1], summary=f"queue {url.rsplit('/', 1)[-1]}")
        for url in _strings(state, "queue_urls")
    ]


LISTINGS: dict[str, Listing] = {
    entry.resource_type: entry
    for entry in (
        Listing(
            "aws_ssm_parameter",
            "aws_ssm_parameters_by_path",
            filters={"path": ("path", "the hierarchy to list, e.g. /app (default /)")},
            # Values are never asked for: with_decryption off, and only names are kept.
            defaults={"path": "/", "recursive": True, "with_decryption": False},
            found=_ssm_parameters,
        ),
        Listing(
            "aws_s3_bucket",
            "aws_resourcegroupstaggingapi_resources",
            defaults={"resource_type_filters": ["s3"]},
            found=_tagged_buckets,
            note="lists buckets that carry at least one tag: AWS's Resource Groups Tagging "
            "API knows no others (the provider has no listing of all buckets)",
        ),
        Listing(
            "aws_sqs_queue",
            "aws_sqs_queues",
            filters={"queue_prefix": ("queue_name_prefix", "queue names starting with this")},
            found=_queues,
        ),
        Listing(
            "aws_iam_role",
            "aws_iam_roles",
            filters={
                "path_prefix": ("path_prefix", "IAM path, e.g. /service-role/"),
                "name_regex": ("name_regex", "a regular expression the name matches"),
            },
            found=_names("role", "names"),
        ),
        Listing(
            "aws_iam_user",
            "aws_iam_users",
            filters={
                "path_prefix": ("path_prefix", "IAM path"),
                "name_regex": ("name_regex", "a regular expression the name matches"),
            },
            found=_names("user", "names"),
        ),
        Listing(
            "aws_cloudwatch_log_group",
            "aws_cloudwatch_log_groups",
            filters={"group_prefix": ("log_group_name_prefix", "log group names starting so")},
            found=_names("log group", "log_group_names"),
        ),
        Listing("aws_dynamodb_table", "aws_dynamodb_tables", found=_names("table", "names")),
        Listing(
            "aws_secretsmanager_secret",
            "aws_secretsmanager_secrets",
            found=_secrets,
        ),
        Listing(
            "aws_lambda_function",
            "aws_lambda_functions",
            found=_names("function", "function_names"),
        ),
        Listing("aws_ecr_repository", "aws_ecr_repositories", found=_names("repository", "names")),
        Listing("aws_vpc", "aws_vpcs", found=_ids("vpc")),
        Listing("aws_subnet", "aws_subnets", found=_ids("subnet")),
        Listing("aws_security_group", "aws_security_groups", found=_ids("security group")),
    )
}


def listing_for(resource_type: str) -> Listing | None:
    return LISTINGS.get(resource_type)


_NOT_ID = re.compile(r"[^A-Za-z0-9_-]+")


def suggest_resource_id(name: str, taken: set[str]) -> str:
    """A resource id (``RESOURCE_ID_PATTERN``) made from an object's name, not in ``taken``
    (which it joins)."""
    base = _NOT_ID.sub("-", name).strip("-_")
    base = re.sub(r"-{2,}", "-", base)
    base = base.lstrip("0123456789-_") or "imported"
    base = base[:120]
    candidate, n = base, 2
    while candidate in taken:
        candidate, n = f"{base}-{n}", n + 1
    taken.add(candidate)
    return candidate
