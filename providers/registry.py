"""Async client for the OpenTofu/Terraform provider registry protocol and registry search.

Protocol (``providers.v1``):

* ``GET https://HOST/.well-known/terraform.json`` → ``{"providers.v1": "/v1/providers/"}``
  (the value may be relative to the discovery document or absolute);
* ``GET {providers.v1}NAMESPACE/TYPE/versions`` → ``{"versions": [{"version", "protocols",
  "platforms": [{"os", "arch"}]}]}``;
* ``GET {providers.v1}NAMESPACE/TYPE/VERSION/download/OS/ARCH`` → the package's
  ``filename``, ``download_url``, ``shasums_url``, ``shasums_signature_url``, ``shasum``,
  ``protocols`` and ``signing_keys.gpg_public_keys[].ascii_armor``.

Search is OpenTofu's registry search API, ``GET {search}/registry/docs/search?q=QUERY``,
which answers a JSON list of ``{id, type, addr, version, title, description,
link_variables}``; ``type`` is ``provider``, ``provider/resource``, ``provider/datasource``,
``provider/function`` or ``module``.

Both public hostnames (``registry.opentofu.org`` and ``registry.terraform.io``) resolve
through ``settings.registry_url``; any other hostname is its own registry at
``https://HOST``.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import AsyncGenerator, Sequence
from contextlib import aclosing
from pathlib import Path
from types import TracebackType
from typing import Any, Self, TypeVar
from urllib.parse import quote, urljoin, urlsplit

import httpx
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from providers._install_errors import ProviderNotFoundError, RegistryError
from providers.models import PUBLIC_REGISTRY_HOSTS, Platform, ProviderAddress
from providers.versions import Version, VersionError
from settings import Settings

__all__ = [
    "DEFAULT_SEARCH_URL",
    "PackageInfo",
    "RegistryClient",
    "RegistryVersion",
    "SearchResult",
    "SigningKey",
    "protocol_majors",
]

log = logging.getLogger(__name__)

DEFAULT_SEARCH_URL = "https://api.opentofu.org"
_PUBLIC_REGISTRY_URL = "https://registry.opentofu.org"
_USER_AGENT = "intent-provider-installer/0.1"
# Metadata documents are small; a registry sending megabytes is broken or hostile.
_MAX_DOCUMENT_BYTES = 8 << 20
# Generous: the largest real provider packages are a few hundred MB.
MAX_PACKAGE_BYTES = 4 << 30

_M = TypeVar("_M", bound=BaseModel)


def protocol_majors(protocols: Sequence[str]) -> tuple[int, ...]:
    """``["5.0", "6.1"]`` → ``(5, 6)``; unparsable entries are ignored."""
    majors: set[int] = set()
    for item in protocols:
        head = str(item).strip().split(".", 1)[0]
        if head.isdigit():
            majors.add(int(head))
    return tuple(sorted(majors))


class _Wire(BaseModel):
    # Registries add fields over time; unknown ones must not break installs.
    model_config = ConfigDict(extra="ignore", frozen=True)


class RegistryVersion(_Wire):
    """One entry of a provider's version list."""

    version: str
    protocols: tuple[str, ...] = ()
    platforms: tuple[Platform, ...] = ()

    @property
    def parsed(self) -> Version | None:
        try:
            return Version.parse(self.version)
        except VersionError:
            return None

    def supports(self, platform: Platform) -> bool:
        return platform in self.platforms


class SigningKey(_Wire):
    """A GPG public key the registry vouches for, in ASCII armor."""

    ascii_armor: str
    key_id: str = ""
    trust_signature: str = ""
    source: str = ""
    source_url: str | None = None


class PackageInfo(_Wire):
    """Where to download one version of a provider for one platform, and how to check it."""

    os: str
    arch: str
    filename: str
    download_url: str
    shasums_url: str
    shasums_signature_url: str
    shasum: str
    protocols: tuple[str, ...] = ()
    signing_keys: tuple[SigningKey, ...] = ()

    @field_validator("signing_keys", mode="before")
    @classmethod
    def _flatten_keys(cls, value: object) -> object:
        # The wire shape is {"gpg_public_keys": [...]}; callers only need the list.
        if isinstance(value, dict):
            return value.get("gpg_public_keys") or ()
        return value if value is not None else ()


class SearchResult(_Wire):
    """One hit of the registry search API."""

    type: str
    addr: str = ""
    id: str = ""
    version: str = ""
    title: str = ""
    description: str = ""
    link_variables: dict[str, Any] = Field(default_factory=dict)

    @field_validator("description", "title", "version", "addr", "id", mode="before")
    @classmethod
    def _none_is_empty(cls, value: object) -> object:
        return "" if value is None else value

    @field_validator("link_variables", mode="before")
    @classmethod
    def _none_is_empty_map(cls, value: object) -> object:
        return {} if value is None else value

    @property
    def is_provider(self) -> bool:
        return self.type == "provider"

    @property
    def address(self) -> ProviderAddress | None:
        """The provider this hit belongs to (for provider, resource, data source and
        function hits), or None for modules and anything unrecognised."""
        if not self.type.startswith("provider"):
            return None
        namespace = str(self.link_variables.get("namespace") or "")
        name = str(self.link_variables.get("name") or "")
        try:
            if namespace and name:
                return ProviderAddress(namespace=namespace, type=name)
            return ProviderAddress.parse(self.addr)
        except ValueError:
            return None

    @property
    def clean_version(self) -> str:
        """The version without the ``v`` prefix the search index uses."""
        return self.version[1:] if self.version[:1] in ("v", "V") else self.version


class _VersionList(_Wire):
    versions: tuple[RegistryVersion, ...] = ()


def _host_of(url: str) -> str:
    return urlsplit(url).netloc or url


class RegistryClient:
    """Talks to provider registries; one instance may serve many requests.

    Use as an async context manager, or call :meth:`aclose` when done.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._settings = settings
        timeout = max(float(settings.registry_timeout_seconds), 1.0)
        self._timeout = timeout
        self._http = httpx.AsyncClient(
            timeout=httpx.Timeout(timeout, connect=min(timeout, 15.0)),
            follow_redirects=True,
            headers={"User-Agent": _USER_AGENT, "Accept": "application/json"},
            transport=transport,
        )
        self._discovered: dict[str, str] = {}

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    # ------------------------------------------------------------------ addresses and URLs

    def registry_base(self, hostname: str) -> str:
        """Base URL of the registry that serves providers of ``hostname``."""
        if hostname in PUBLIC_REGISTRY_HOSTS:
            return self._settings.registry_url.rstrip("/")
        return f"https://{hostname}"

    def search_base(self) -> str:
        """Base URL of the search API: explicit setting, else OpenTofu's public search for
        the public registry, else the configured registry itself."""
        if self._settings.registry_search_url:
            return self._settings.registry_search_url.rstrip("/")
        registry = self._settings.registry_url.rstrip("/")
        return DEFAULT_SEARCH_URL if registry == _PUBLIC_REGISTRY_URL else registry

    async def providers_url(self, hostname: str) -> str:
        """Service discovery: the absolute ``providers.v1`` URL (ending in ``/``)."""
        base = self.registry_base(hostname)
        if base in self._discovered:
            return self._discovered[base]
        url = f"{base}/.well-known/terraform.json"
        document = await self._get_json(url, "the service discovery document")
        if not isinstance(document, dict) or not isinstance(document.get("providers.v1"), str):
            raise RegistryError(
                f"{url} does not advertise a provider registry (no 'providers.v1' entry); "
                "check INTENT_REGISTRY_URL, or the hostname in the provider source address",
                url=url,
            )
        providers = urljoin(url, str(document["providers.v1"]))
        if not providers.endswith("/"):
            providers += "/"
        self._check_scheme(providers, "the providers.v1 URL")
        self._discovered[base] = providers
        return providers

    # ---------------------------------------------------------------------------- protocol

    async def versions(self, address: ProviderAddress) -> list[RegistryVersion]:
        """All versions the registry lists for ``address``."""
        root = await self.providers_url(address.hostname)
        url = f"{root}{quote(address.namespace)}/{quote(address.type)}/versions"
        try:
            document = await self._get_json(url, f"the version list of {address.short}")
        except RegistryError as exc:
            if exc.status == 404:
                raise ProviderNotFoundError(
                    f"the registry at {self.registry_base(address.hostname)} has no provider "
                    f"{address.short} ({url} answered 404); check the spelling of the source "
                    "address (NAMESPACE/TYPE, e.g. hashicorp/aws)"
                ) from exc
            raise
        return list(self._model(_VersionList, document, url, "version list").versions)

    async def package(
        self, address: ProviderAddress, version: str, platform: Platform
    ) -> PackageInfo:
        """Download metadata for one version on one platform."""
        root = await self.providers_url(address.hostname)
        url = (
            f"{root}{quote(address.namespace)}/{quote(address.type)}/{quote(version)}"
            f"/download/{quote(platform.os)}/{quote(platform.arch)}"
        )
        what = f"download information for {address.short} {version} ({platform})"
        try:
            document = await self._get_json(url, what)
        except RegistryError as exc:
            if exc.status == 404:
                raise ProviderNotFoundError(
                    f"{address.short} {version} has no package for {platform} ({url} "
                    "answered 404); choose a version built for this platform"
                ) from exc
            raise
        info = self._model(PackageInfo, document, url, "download information")
        # Relative URLs are resolved against the document that named them.
        resolved = info.model_copy(
            update={
                "download_url": urljoin(url, info.download_url),
                "shasums_url": urljoin(url, info.shasums_url),
                "shasums_signature_url": urljoin(url, info.shasums_signature_url),
            }
        )
        for field_name in ("download_url", "shasums_url", "shasums_signature_url"):
            self._check_scheme(getattr(resolved, field_name), field_name)
        return resolved

    async def search(
        self, query: str, *, types: Sequence[str] | None = ("provider",), limit: int | None = None
    ) -> list[SearchResult]:
        """Search the registry index. ``types`` filters on the hit type (None: all)."""
        if not query.strip():
            raise ValueError("search needs a query, for example 'aws' or 'kubernetes'")
        url = f"{self.search_base()}/registry/docs/search"
        document = await self._get_json(
            url, "search results", params={"q": query.strip()}, search=True
        )
        if isinstance(document, dict):
            # Tolerate an envelope ({"results": [...]}) as some self-hosted indexes use.
            document = document.get("results", document.get("data"))
        if not isinstance(document, list):
            raise RegistryError(
                f"{url} did not answer a list of search results; check "
                "INTENT_REGISTRY_SEARCH_URL (it should point at an OpenTofu registry search API)",
                url=url,
            )
        results: list[SearchResult] = []
        for item in document:
            try:
                hit = SearchResult.model_validate(item)
            except ValidationError:
                continue  # one malformed hit should not hide the rest
            if types is None or hit.type in types:
                results.append(hit)
        return results[:limit] if limit is not None else results

    # ----------------------------------------------------------------------------- fetching

    async def fetch_bytes(
        self, url: str, what: str, *, max_bytes: int = _MAX_DOCUMENT_BYTES
    ) -> bytes:
        """GET a small file (SHA256SUMS, signatures) into memory."""
        chunks: list[bytes] = []
        size = 0
        async with aclosing(self._chunks(url, what)) as body:
            async for chunk in body:
                size += len(chunk)
                if size > max_bytes:
                    raise RegistryError(
                        f"{what} at {url} is larger than {max_bytes} bytes; the registry is "
                        "misbehaving — report it to its operator",
                        url=url,
                    )
                chunks.append(chunk)
        return b"".join(chunks)

    async def download(
        self, url: str, dest: Path, what: str, *, max_bytes: int = MAX_PACKAGE_BYTES
    ) -> str:
        """Stream ``url`` into ``dest`` (which must not exist); return its hex SHA-256."""
        digest = hashlib.sha256()
        size = 0
        with dest.open("xb") as handle:
            async with aclosing(self._chunks(url, what)) as body:
                async for chunk in body:
                    size += len(chunk)
                    if size > max_bytes:
                        raise RegistryError(
                            f"{what} at {url} exceeds {max_bytes} bytes; refusing to download "
                            "it — report the package to the registry operator",
                            url=url,
                        )
                    digest.update(chunk)
                    handle.write(chunk)
        log.debug("downloaded %s (%d bytes) from %s", what, size, url)
        return digest.hexdigest()

    # ---------------------------------------------------------------------------- internals

    def _check_scheme(self, url: str, what: str) -> None:
        if urlsplit(url).scheme not in ("https", "http"):
            raise RegistryError(
                f"the registry gave {what} {url!r}, which is not an http(s) URL; the registry "
                "is misconfigured — report it to its operator",
                url=url,
            )

    def _model(self, model: type[_M], document: object, url: str, what: str) -> _M:
        try:
            return model.model_validate(document)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first.get("loc", ())) or "document"
            raise RegistryError(
                f"{url} returned an invalid {what} ({where}: {first.get('msg')}); is "
                "INTENT_REGISTRY_URL pointing at a provider registry?",
                url=url,
            ) from exc

    def _transport_error(
        self, url: str, what: str, exc: httpx.HTTPError, *, search: bool = False
    ) -> RegistryError:
        if search:
            remedy = "or set INTENT_REGISTRY_SEARCH_URL to a reachable search API"
        else:
            remedy = (
                "set INTENT_REGISTRY_URL to a reachable registry, or put the provider in a "
                "filesystem mirror (INTENT_PROVIDER_MIRRORS)"
            )
        if isinstance(exc, httpx.TimeoutException):
            return RegistryError(
                f"timed out after {self._timeout:g}s fetching {what} from {url}; check network "
                f"access to {_host_of(url)}, raise INTENT_REGISTRY_TIMEOUT_SECONDS, {remedy}",
                url=url,
            )
        detail = str(exc) or type(exc).__name__
        return RegistryError(
            f"could not fetch {what} from {url} ({detail}); check network/proxy access to "
            f"{_host_of(url)}, {remedy}",
            url=url,
        )

    def _status_error(self, url: str, what: str, response: httpx.Response) -> RegistryError:
        detail = ""
        try:
            body = response.json()
            if isinstance(body, dict) and isinstance(body.get("errors"), list):
                detail = "; ".join(str(e) for e in body["errors"])
        except ValueError:
            pass
        detail = f": {detail}" if detail else ""
        hint = (
            "try again later or check the registry's status"
            if response.status_code >= 500 or response.status_code == 429
            else "check INTENT_REGISTRY_URL and the provider source address"
        )
        return RegistryError(
            f"{url} answered HTTP {response.status_code} for {what}{detail}; {hint}",
            url=url,
            status=response.status_code,
        )

    async def _get_json(
        self, url: str, what: str, *, params: dict[str, str] | None = None, search: bool = False
    ) -> Any:
        try:
            response = await self._http.get(url, params=params)
        except httpx.HTTPError as exc:
            raise self._transport_error(url, what, exc, search=search) from exc
        if response.status_code != 200:
            raise self._status_error(url, what, response)
        if len(response.content) > _MAX_DOCUMENT_BYTES:
            raise RegistryError(f"{what} at {url} is unreasonably large; not reading it", url=url)
        try:
            return response.json()
        except ValueError as exc:
            raise RegistryError(
                f"{url} did not return JSON for {what}; is INTENT_REGISTRY_URL pointing at a "
                "provider registry?",
                url=url,
            ) from exc

    async def _chunks(self, url: str, what: str) -> AsyncGenerator[bytes, None]:
        # Network failures can happen mid-body as well as on connect; both become
        # RegistryError so callers handle one exception type.
        try:
            async with self._http.stream("GET", url, headers={"Accept": "*/*"}) as response:
                if response.status_code != 200:
                    await response.aread()
                    raise self._status_error(url, what, response)
                async for chunk in response.aiter_bytes(1 << 20):
                    yield chunk
        except httpx.HTTPError as exc:
            raise self._transport_error(url, what, exc) from exc
