"""Cloud integrations: how a project's provider gets its cloud credentials.

An integration is an object in a space (managed with ``intent-integration:manage``),
attached to projects with a region and Read / Write switches. Each *kind* (``aws``:
IAM roles assumed per change; ``static``: a provider configuration, credentials from
the project's environment) sits behind the small interface in ``kinds``.

``kinds``, ``aws`` and ``static`` are pure (the server validates and shows with them);
``sessions`` and ``endpoint`` are the worker's: they assume roles with STS and hand the
short-lived credentials to provider processes.
"""

from integrations.kinds import (
    KINDS,
    Access,
    Attachment,
    IntegrationFacts,
    IntegrationInvalid,
    IntegrationKind,
    kind_of,
)

__all__ = [
    "KINDS",
    "Access",
    "Attachment",
    "IntegrationFacts",
    "IntegrationInvalid",
    "IntegrationKind",
    "kind_of",
]
