"""A reference may not carry a sensitive value into a place that shows it.

Unit tests of ``check_sensitive_references`` over schema blocks and redacted views, for
the shapes the AWS provider really has (sensitive maps such as
``aws_glue_connection.connection_properties``, objects holding sensitive values).
"""

from __future__ import annotations

from typing import Any

import pytest

from activities.planning import check_sensitive_references
from providers.plan import SENSITIVE_DISPLAY
from providers.schema import schema_from_json
from workflows.references import ReferenceError

TARGET = schema_from_json(
    {
        "block": {
            "attributes": [
                {"name": "description", "type": "string", "optional": True},
                {"name": "value", "type": "string", "optional": True, "sensitive": True},
            ]
        }
    }
).block

VIEWS: dict[str, dict[str, Any]] = {
    # A sensitive map: redacted whole.
    "conn": {"name": "c", "connection_properties": SENSITIVE_DISPLAY},
    # An object holding one sensitive value among plain ones.
    "user": {"name": "u", "auth": {"type": "password", "passwords": SENSITIVE_DISPLAY}},
    "plain": {"name": "p", "tags": {"team": "web"}},
}


@pytest.mark.parametrize(
    "reference",
    [
        "${conn.connection_properties.PASSWORD}",  # into a sensitive map
        "${conn.connection_properties}",
        "${user.auth}",  # a value that holds a sensitive one
        "${user.auth.passwords}",
        "prefix-${conn.connection_properties.USERNAME}",
    ],
)
def test_sensitive_values_stay_out_of_plain_attributes(reference: str) -> None:
    with pytest.raises(ReferenceError, match="is a sensitive value"):
        check_sensitive_references(TARGET, {"description": reference}, VIEWS)
    # Into a sensitive attribute they may go.
    check_sensitive_references(TARGET, {"value": reference}, VIEWS)


def test_plain_values_flow_anywhere() -> None:
    for reference in ("${plain.tags.team}", "${user.auth.type}", "${conn.name}"):
        check_sensitive_references(TARGET, {"description": reference}, VIEWS)
