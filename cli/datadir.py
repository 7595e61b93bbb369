"""The data directory's layout and permissions.

It holds the database, the secret key, the logs, Temporal's dev-server file and the
installed providers. Everything but the providers is private to the service account
(files 0600, directories 0700). Provider processes run as another, unprivileged account
(``INTENT_PROVIDER_USER``) that must still execute the installed providers: the data dir
is then traversable but not listable (0711) and only the provider directory is readable.
"""

from __future__ import annotations

import contextlib
import os

from settings import Settings

__all__ = ["PRIVATE_UMASK", "secure_data_dir"]

# Files and directories intent creates are private unless made readable on purpose.
PRIVATE_UMASK = 0o077


def secure_data_dir(settings: Settings) -> None:
    """Create the data dir if needed and tighten what an older version left open."""
    # Provider processes run as another account when we are root (INTENT_PROVIDER_USER)
    # and must reach the provider directory.
    providers_shared = os.geteuid() == 0 and bool(settings.provider_user)
    data_dir = settings.data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    provider_dir = settings.resolved_provider_dir
    inside = provider_dir.is_relative_to(data_dir)
    data_dir.chmod(0o711 if providers_shared and inside else 0o700)
    for entry in data_dir.iterdir():
        if entry == provider_dir:
            continue
        with contextlib.suppress(OSError):
            if entry.is_symlink():
                continue
            entry.chmod(0o700 if entry.is_dir() else 0o600)
    if providers_shared and provider_dir.is_dir():
        # The directories on the way to the packages must be traversable; the caches
        # below stay the service account's own.
        for parent in [provider_dir, *provider_dir.parents]:
            if parent == data_dir or not parent.is_relative_to(data_dir):
                break
            with contextlib.suppress(OSError):
                parent.chmod(0o755)
        from providers.install import publish_tree  # only here: it loads the provider stack

        for package_host in provider_dir.iterdir():
            if package_host.is_dir() and not package_host.name.startswith("."):
                publish_tree(package_host)
