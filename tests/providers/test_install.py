"""Provider installation: registry download + verification, filesystem mirrors, the CLI.

The registry is a real HTTP server on 127.0.0.1 (``registry_server``) serving real zips
and real OpenPGP signatures; mirrors are real directory trees. One test resolves the
real ``hashicorp/aws`` binary from the machine's filesystem mirror.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import socket
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from typer.testing import CliRunner

from cli.providers import app as providers_cli
from providers import (
    InstalledProvider,
    PackageVerificationError,
    Platform,
    ProviderAddress,
    ProviderConfigError,
    ProviderNotFoundError,
    RegistryClient,
    RegistryError,
    install_provider,
    list_local_providers,
    parse_requirement,
)
from providers._cliconfig import load_cli_config, parse_cli_config
from settings import Settings
from tests.providers.registry_server import (
    FakeRegistry,
    make_signing_key,
    provider_script,
    provider_zip,
    running_registry,
    zip_with,
)
from tests.support import require
from tests.support.providers import find_aws_provider

if TYPE_CHECKING:
    import pgpy

HERE = Platform.current()


# -------------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="session")
def signing_key() -> pgpy.PGPKey:
    return make_signing_key()


@pytest.fixture(scope="session")
def other_key() -> pgpy.PGPKey:
    return make_signing_key("Somebody Else")


@pytest.fixture
def registry(signing_key: pgpy.PGPKey) -> Iterator[FakeRegistry]:
    with running_registry(signing_key) as reg:
        yield reg


@pytest.fixture(autouse=True)
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No mirror configuration leaks in from the machine or the developer's home."""
    monkeypatch.setenv("TF_CLI_CONFIG_FILE", str(tmp_path / "no-such-terraformrc"))
    monkeypatch.delenv("TF_PLUGIN_CACHE_DIR", raising=False)
    for name in list(os.environ):
        if name.startswith("INTENT_"):
            monkeypatch.delenv(name)


def _closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"  # nothing listens here once the socket is closed


def make_settings(
    tmp_path: Path,
    registry_url: str,
    mirrors: list[Path] | None = None,
    *,
    pinned: pgpy.PGPKey | None = None,
) -> Settings:
    """Settings that allow the test namespace ``acme`` and pin ``pinned`` as its key."""
    trust = tmp_path / "trust"
    if pinned is not None:
        (trust / "acme").mkdir(parents=True, exist_ok=True)
        (trust / "acme" / "registry.asc").write_text(str(pinned.pubkey))
    return Settings(
        data_dir=tmp_path / "data",
        registry_url=registry_url,
        provider_mirrors=mirrors or [],
        registry_timeout_seconds=5,
        hash_cache_dir=tmp_path / "hashes",
        allowed_providers=["acme/*", "hashicorp/*"],
        provider_trust_dirs=[trust],
    )


@pytest.fixture
def settings(tmp_path: Path, registry: FakeRegistry) -> Settings:
    return make_settings(tmp_path, registry.url, pinned=registry.key)


def tree(root: Path) -> list[str]:
    """Every path under ``root`` (files and directories), for "nothing was left" checks."""
    if not root.exists():
        return []
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


def unpacked_mirror(
    root: Path,
    version: str,
    *,
    host: str = "registry.terraform.io",
    address: str = "acme/demo",
    binary_suffix: str = "_x6",
    platform: Platform = HERE,
) -> Path:
    namespace, type_ = address.split("/")
    directory = root / host / namespace / type_ / version / str(platform)
    directory.mkdir(parents=True)
    binary = directory / f"terraform-provider-{type_}_v{version}{binary_suffix}"
    binary.write_bytes(provider_script(type_, version))
    binary.chmod(0o755)
    return binary


def packed_mirror(root: Path, version: str, *, host: str = "registry.opentofu.org") -> Path:
    directory = root / host / "acme" / "demo"
    directory.mkdir(parents=True, exist_ok=True)
    archive = directory / f"terraform-provider-demo_{version}_{HERE}.zip"
    archive.write_bytes(provider_zip("demo", version, protocol=6))
    return archive


def run_provider(installed: InstalledProvider) -> str:
    return subprocess.run(
        [str(installed.path)], check=True, capture_output=True, text=True, timeout=30
    ).stdout.strip()


# ----------------------------------------------------------------------- registry installs


async def test_installs_verified_package_and_reuses_it(
    registry: FakeRegistry, settings: Settings
) -> None:
    registry.add("acme", "demo", "1.0.0", protocols=("6.0",))

    installed = await install_provider("acme/demo", None, settings)

    provider_dir = settings.resolved_provider_dir
    package_dir = provider_dir / "registry.opentofu.org/acme/demo/1.0.0" / str(HERE)
    assert installed.version == "1.0.0"
    assert installed.path == package_dir / "terraform-provider-demo_v1.0.0_x5"
    assert installed.protocol_versions == (6,)  # the registry's word beats the file name
    assert installed.sha256 == hashlib.sha256(installed.path.read_bytes()).hexdigest()
    assert installed.path.stat().st_mode & stat.S_IXUSR
    assert run_provider(installed) == "terraform-provider-demo 1.0.0"
    assert sorted(p.name for p in package_dir.iterdir()) == [
        ".intent-package.json",
        "LICENSE.txt",
        "terraform-provider-demo_v1.0.0_x5",
    ]
    assert not [p for p in provider_dir.iterdir() if p.name.startswith(".staging")]
    assert registry.count("/files/") == 3  # zip, SHA256SUMS, signature

    before = len(registry.requests)
    again = await install_provider("acme/demo", "~> 1.0", settings)
    assert again == installed
    assert len(registry.requests) == before, "an installed version must not touch the network"


async def test_flipped_byte_in_zip_is_rejected(registry: FakeRegistry, settings: Settings) -> None:
    package = registry.add("acme", "demo", "1.0.0")
    tampered = bytearray(package.zip_bytes)
    tampered[len(tampered) // 2] ^= 0x01
    package.zip_bytes = bytes(tampered)

    with pytest.raises(PackageVerificationError, match="checksum mismatch") as info:
        await install_provider("acme/demo", None, settings)
    assert package.filename in str(info.value)
    assert tree(settings.resolved_provider_dir) == []


async def test_signature_from_another_key_is_rejected(
    registry: FakeRegistry, settings: Settings, other_key: pgpy.PGPKey
) -> None:
    registry.add("acme", "demo", "1.0.0", signed_by=other_key, listed_keys=[])

    with pytest.raises(PackageVerificationError, match="not a key pinned for 'acme'"):
        await install_provider("acme/demo", None, settings)
    assert tree(settings.resolved_provider_dir) == []


async def test_a_key_the_registry_lists_is_not_trusted_unless_pinned(
    registry: FakeRegistry, settings: Settings, other_key: pgpy.PGPKey
) -> None:
    # The registry vouches for the key that signed: that is exactly what a hostile or
    # compromised registry would do.
    registry.add("acme", "demo", "1.0.0", signed_by=other_key, listed_keys=[other_key])

    with pytest.raises(PackageVerificationError, match=r"registry lists but.*not pinned") as info:
        await install_provider("acme/demo", None, settings)
    assert "INTENT_PROVIDER_TRUST_DIRS" in str(info.value)
    assert tree(settings.resolved_provider_dir) == []


async def test_namespace_without_a_pinned_key_is_refused(
    registry: FakeRegistry, tmp_path: Path
) -> None:
    registry.add("acme", "demo", "1.0.0")
    unpinned = make_settings(tmp_path, registry.url)
    with pytest.raises(PackageVerificationError, match=r"no signing key is pinned.*'acme'"):
        await install_provider("acme/demo", None, unpinned)
    assert tree(unpinned.resolved_provider_dir) == []


async def test_altered_sha256sums_fails_the_signature(
    registry: FakeRegistry, settings: Settings
) -> None:
    package = registry.add("acme", "demo", "1.0.0")
    evil = provider_zip("demo", "6.6.6")
    package.zip_bytes = evil
    package.shasum = hashlib.sha256(evil).hexdigest()
    package.shasums = package.shasums.replace(
        package.shasums.split()[2], package.shasum.encode()
    )  # the attacker rewrites the sums to match, but cannot re-sign them

    with pytest.raises(PackageVerificationError, match="does not match SHA256SUMS"):
        await install_provider("acme/demo", None, settings)
    assert tree(settings.resolved_provider_dir) == []


async def test_pinned_key_is_enough_when_the_registry_lists_none(
    registry: FakeRegistry, settings: Settings
) -> None:
    registry.add("acme", "demo", "1.0.0", listed_keys=[])
    installed = await install_provider("acme/demo", None, settings)
    assert installed.version == "1.0.0"


@pytest.mark.parametrize(
    ("entries", "modes", "message"),
    [
        ({"../../evil.sh": b"x"}, {}, "outside the provider's directory"),
        ({"sub/../../../evil.sh": b"x"}, {}, "outside the provider's directory"),
        ({"/tmp/evil.sh": b"x"}, {}, "outside the provider's directory"),
        ({"C:/evil.sh": b"x"}, {}, "outside the provider's directory"),
        ({"link": b"/etc/passwd"}, {"link": stat.S_IFLNK | 0o777}, "symbolic link"),
        ({"fifo": b""}, {"fifo": stat.S_IFIFO | 0o644}, "special file"),
    ],
)
async def test_zip_entries_may_not_escape(
    registry: FakeRegistry,
    settings: Settings,
    tmp_path: Path,
    entries: dict[str, bytes],
    modes: dict[str, int],
    message: str,
) -> None:
    # A correctly signed package: only the archive check stands between it and the disk.
    binary = "terraform-provider-demo_v1.0.0_x5"
    zip_bytes = zip_with(
        {binary: provider_script("demo", "1.0.0"), **entries},
        modes={binary: stat.S_IFREG | 0o755, **modes},
    )
    registry.add("acme", "demo", "1.0.0", zip_bytes=zip_bytes)

    with pytest.raises(PackageVerificationError, match=message):
        await install_provider("acme/demo", None, settings)
    assert tree(settings.resolved_provider_dir) == []
    assert not [p for p in tree(tmp_path) if p.endswith("evil.sh")]


async def test_package_without_the_provider_binary_is_rejected(
    registry: FakeRegistry, settings: Settings
) -> None:
    registry.add("acme", "demo", "1.0.0", zip_bytes=zip_with({"terraform-provider-other": b"x"}))
    with pytest.raises(PackageVerificationError, match="no terraform-provider-demo executable"):
        await install_provider("acme/demo", None, settings)
    assert tree(settings.resolved_provider_dir) == []


async def test_constraints_pick_the_newest_matching_version(
    registry: FakeRegistry, settings: Settings
) -> None:
    for version in ["1.0.0", "1.2.0", "1.10.0", "2.0.0", "2.1.0-beta1"]:
        registry.add("acme", "demo", version)
    # Newest overall exists, but not for this platform: never picked.
    other = Platform(os="plan9", arch=HERE.arch)
    registry.add("acme", "demo", "3.0.0", platform=other)

    async def pick(constraint: str | None) -> str:
        return (await install_provider("acme/demo", constraint, settings, upgrade=True)).version

    assert await pick("~> 1.0") == "1.10.0"
    assert await pick("~> 1.2.0") == "1.2.0"
    assert await pick(">= 1.0, < 1.5") == "1.2.0"
    assert await pick(None) == "2.0.0"
    assert await pick("= 2.1.0-beta1") == "2.1.0-beta1"
    with pytest.raises(
        ProviderNotFoundError, match=r"no version of acme/demo matches '>= 3\.0'"
    ) as info:
        await pick(">= 3.0")
    assert "2.1.0-beta1, 2.0.0, 1.10.0" in str(info.value)
    assert "Change the version constraint" in str(info.value)

    installed = await list_local_providers(settings, "acme/demo")
    assert [p.version for p in installed] == ["2.1.0-beta1", "2.0.0", "1.10.0", "1.2.0"]
    assert all(p.installed and p.layout == "unpacked" for p in installed)


async def test_relative_download_urls_resolve_against_the_registry(
    registry: FakeRegistry, settings: Settings
) -> None:
    registry.add("acme", "demo", "1.0.0", relative_urls=True)
    installed = await install_provider("acme/demo", "1.0.0", settings)
    assert run_provider(installed) == "terraform-provider-demo 1.0.0"


async def test_concurrent_installs_download_once(
    registry: FakeRegistry, settings: Settings
) -> None:
    registry.add("acme", "demo", "1.0.0")
    results = await asyncio.gather(
        *(install_provider("acme/demo", None, settings) for _ in range(4))
    )
    assert len(set(results)) == 1
    assert registry.count(".zip") == 1


async def test_unknown_provider_names_the_fix(registry: FakeRegistry, settings: Settings) -> None:
    with pytest.raises(ProviderNotFoundError, match="check the spelling") as info:
        await install_provider("acme/nope", None, settings)
    message = str(info.value)
    assert "acme/nope" in message and registry.url in message
    assert "provider directory" in message  # says where it looked locally too


async def test_unreachable_registry_names_url_and_alternatives(tmp_path: Path) -> None:
    url = _closed_port_url()
    settings = make_settings(tmp_path, url)
    with pytest.raises(RegistryError) as info:
        await install_provider("acme/demo", "~> 1.0", settings)
    message = str(info.value)
    assert f"{url}/.well-known/terraform.json" in message
    assert "INTENT_REGISTRY_URL" in message and "INTENT_PROVIDER_MIRRORS" in message
    assert "acme/demo (~> 1.0)" in message


async def test_invalid_requests_raise_value_errors(settings: Settings) -> None:
    with pytest.raises(ValueError, match="NAMESPACE/TYPE"):
        await install_provider("aws", None, settings)
    with pytest.raises(ValueError, match="may contain only"):
        await install_provider("../passwd", None, settings)
    with pytest.raises(ValueError, match="did you mean '>='"):
        await install_provider("acme/demo", "=> 1.0", settings)
    assert parse_requirement("Hashicorp/AWS@ ~> 5.0") == (
        ProviderAddress(namespace="hashicorp", type="aws"),
        "~> 5.0",
    )
    assert parse_requirement("example.com/acme/demo") == (
        ProviderAddress(hostname="example.com", namespace="acme", type="demo"),
        None,
    )
    with pytest.raises(ValueError, match="empty version constraint"):
        parse_requirement("acme/demo@")


async def test_search_uses_the_opentofu_search_shape(
    registry: FakeRegistry, settings: Settings
) -> None:
    registry.search_index = [
        {
            "id": "providers/acme/demo",
            "type": "provider",
            "addr": "acme/demo",
            "version": "v1.2.0",
            "title": "demo",
            "description": "Demo widgets for tests",
            "link_variables": {"namespace": "acme", "name": "demo", "version": "v1.2.0"},
            "last_updated": "2024-01-01T00:00:00Z",
        },
        {
            "id": "providers/acme/demo/v1.2.0/resources/demo_widget",
            "type": "provider/resource",
            "addr": "acme/demo",
            "version": "v1.2.0",
            "title": "demo_widget",
            "description": "A widget",
            "link_variables": {"namespace": "acme", "name": "demo", "id": "demo_widget"},
        },
        {"type": "module", "addr": "acme/demo/aws", "version": "v0.1.0", "description": None},
        {"unexpected": "shape"},
    ]
    async with RegistryClient(settings) as client:
        assert client.search_base() == registry.url
        providers = await client.search("demo")
        everything = await client.search("demo", types=None)
        resources = await client.search("widget", types=("provider/resource",))
    assert [(h.address, h.clean_version) for h in providers] == [
        (ProviderAddress(namespace="acme", type="demo"), "1.2.0")
    ]
    assert [h.type for h in everything] == ["provider", "provider/resource", "module"]
    assert everything[2].address is None
    assert [h.title for h in resources] == ["demo_widget"]


def test_search_url_defaults_to_the_public_search_api(tmp_path: Path) -> None:
    public = Settings(data_dir=tmp_path)
    assert RegistryClient(public).search_base() == "https://api.opentofu.org"
    explicit = Settings(data_dir=tmp_path, registry_search_url="https://search.example/")
    assert RegistryClient(explicit).search_base() == "https://search.example"


# -------------------------------------------------------------------------------- mirrors


async def test_unpacked_mirror_is_used_without_the_network(tmp_path: Path) -> None:
    mirror = tmp_path / "mirror"
    binary = unpacked_mirror(mirror, "2.3.4")  # filed under registry.terraform.io
    unpacked_mirror(mirror, "2.4.0", platform=Platform(os="plan9", arch="arm"))
    settings = make_settings(tmp_path, _closed_port_url(), mirrors=[mirror])

    installed = await install_provider("acme/demo", "~> 2.0", settings)  # registry.opentofu.org

    assert installed.address == ProviderAddress(namespace="acme", type="demo")
    assert installed.path == binary  # used in place, not copied
    assert installed.version == "2.3.4"
    assert installed.protocol_versions == (6,)  # from the _x6 suffix
    assert installed.sha256 == hashlib.sha256(binary.read_bytes()).hexdigest()
    assert tree(settings.resolved_provider_dir) == []  # nothing copied or written
    assert len(tree(settings.resolved_hash_cache_dir)) == 1  # the digest, remembered


async def test_a_binary_is_hashed_once_per_machine(tmp_path: Path) -> None:
    """A second data dir (a fresh `intent up`) finds the digest the first one computed,
    keyed by the binary's path, size, mtime and inode; a rewritten binary is hashed
    again."""
    mirror = tmp_path / "mirror"
    binary = unpacked_mirror(mirror, "2.3.4")
    first = make_settings(tmp_path / "one", _closed_port_url(), mirrors=[mirror])
    second = make_settings(tmp_path / "two", _closed_port_url(), mirrors=[mirror])
    second = second.model_copy(update={"hash_cache_dir": first.hash_cache_dir})
    digest = (await install_provider("acme/demo", "2.3.4", first)).sha256
    (sidecar,) = first.resolved_hash_cache_dir.iterdir()
    record = json.loads(sidecar.read_text())
    assert record["sha256"] == digest and record["size"] == binary.stat().st_size
    # A planted digest for the same fingerprint is what the second data dir reports:
    # proof that it did not hash the binary again.
    sidecar.write_text(json.dumps({**record, "sha256": "f" * 64}))
    assert (await install_provider("acme/demo", "2.3.4", second)).sha256 == "f" * 64
    binary.write_bytes(binary.read_bytes() + b"\0")  # rewritten: size and mtime change
    assert (await install_provider("acme/demo", "2.3.4", second)).sha256 == hashlib.sha256(
        binary.read_bytes()
    ).hexdigest()


async def test_mirror_binary_without_protocol_suffix_defaults_to_5_and_6(tmp_path: Path) -> None:
    mirror = tmp_path / "mirror"
    unpacked_mirror(mirror, "1.0.0", binary_suffix="")
    settings = make_settings(tmp_path, _closed_port_url(), mirrors=[mirror])
    installed = await install_provider("registry.terraform.io/acme/demo", None, settings)
    assert installed.protocol_versions == (5, 6)
    assert installed.address.hostname == "registry.terraform.io"


async def test_non_executable_mirror_binary_is_copied_not_chmodded(tmp_path: Path) -> None:
    mirror = tmp_path / "mirror"
    binary = unpacked_mirror(mirror, "1.0.0")
    binary.chmod(0o644)
    settings = make_settings(tmp_path, _closed_port_url(), mirrors=[mirror])
    installed = await install_provider("acme/demo", None, settings)
    assert installed.path.is_relative_to(settings.resolved_provider_dir)
    assert stat.S_IMODE(binary.stat().st_mode) == 0o644
    assert run_provider(installed) == "terraform-provider-demo 1.0.0"


async def test_packed_mirror_is_unpacked_into_the_provider_dir(tmp_path: Path) -> None:
    mirror = tmp_path / "mirror"
    packed_mirror(mirror, "1.1.0")
    packed_mirror(mirror, "1.5.0")
    settings = make_settings(tmp_path, _closed_port_url(), mirrors=[mirror])

    installed = await install_provider("acme/demo", "< 1.5", settings)

    expected_dir = (
        settings.resolved_provider_dir / "registry.opentofu.org/acme/demo/1.1.0" / str(HERE)
    )
    assert installed.path == expected_dir / "terraform-provider-demo_v1.1.0_x6"
    assert installed.protocol_versions == (6,)
    assert run_provider(installed) == "terraform-provider-demo 1.1.0"
    assert (await install_provider("acme/demo", "1.1.0", settings)).path == installed.path

    listed = await list_local_providers(settings)
    assert [(p.version, p.layout, p.installed) for p in listed] == [
        ("1.5.0", "packed", False),
        ("1.1.0", "unpacked", True),
        ("1.1.0", "packed", False),
    ]


async def test_unsafe_packed_mirror_is_rejected(tmp_path: Path) -> None:
    mirror = tmp_path / "mirror"
    archive = packed_mirror(mirror, "1.0.0")
    archive.write_bytes(zip_with({"terraform-provider-demo": b"#!/bin/sh\n", "../x": b""}))
    settings = make_settings(tmp_path, _closed_port_url(), mirrors=[mirror])
    with pytest.raises(PackageVerificationError, match="outside the provider's directory"):
        await install_provider("acme/demo", None, settings)
    assert tree(settings.resolved_provider_dir) == []


async def test_tf_plugin_cache_dir_is_a_mirror(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "plugin-cache"
    binary = unpacked_mirror(cache, "3.0.0", host="registry.opentofu.org")
    monkeypatch.setenv("TF_PLUGIN_CACHE_DIR", str(cache))
    settings = make_settings(tmp_path, _closed_port_url())
    assert (await install_provider("acme/demo", None, settings)).path == binary


CLI_CONFIG = """
# Terraform CLI configuration (comments of every kind must be skipped)
plugin_cache_dir   = "$CACHE_ROOT/plugin-cache"   // expanded from the environment
disable_checkpoint = true

/* credentials are parsed and ignored:
   provider_installation { filesystem_mirror { path = "/commented/out" } } */
credentials "app.terraform.io" {
  token = "xxxxxx.atlasv1.zzzz\\"with quotes\\""
}

host "example.com" {
  services = {
    "providers.v1" = "https://example.com/v1/providers/",
  }
}

provider_installation {
  filesystem_mirror {
    path    = "MIRROR_A"
    include = ["registry.terraform.io/acme/*"]
  }
  filesystem_mirror {
    path    = "MIRROR_B"
    exclude = ["acme/demo"]
  }
  network_mirror {
    url = "https://mirror.example/providers/"
  }
  direct {
    exclude = ["example.com/*/*"]
  }
}
"""


async def test_cli_config_file_mirrors_and_plugin_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mirror_a, mirror_b = tmp_path / "a", tmp_path / "b"
    in_a = unpacked_mirror(mirror_a, "1.0.0")
    unpacked_mirror(mirror_b, "9.0.0")  # excluded for acme/demo by the config
    in_b = unpacked_mirror(mirror_b, "0.5.0", address="acme/other")
    in_cache = unpacked_mirror(tmp_path / "plugin-cache", "4.0.0", address="acme/cached")
    config = tmp_path / "terraformrc"
    config.write_text(
        CLI_CONFIG.replace("MIRROR_A", str(mirror_a)).replace("MIRROR_B", str(mirror_b))
    )
    monkeypatch.setenv("TF_CLI_CONFIG_FILE", str(config))
    monkeypatch.setenv("CACHE_ROOT", str(tmp_path))
    settings = make_settings(tmp_path, _closed_port_url())

    assert (await install_provider("acme/demo", None, settings)).path == in_a
    assert (await install_provider("acme/other", None, settings)).path == in_b
    assert (await install_provider("acme/cached", None, settings)).path == in_cache
    with pytest.raises(RegistryError, match="not available locally"):
        await install_provider("acme/demo", ">= 9", settings)


def test_cli_config_parser_handles_hcl_and_json(tmp_path: Path) -> None:
    env = {"HOME": "/home/me", "CACHE_ROOT": "/var/cache"}
    parsed = parse_cli_config(CLI_CONFIG, env=env)
    assert parsed.plugin_cache_dir == Path("/var/cache/plugin-cache")
    assert [(m.path.name, m.include, m.exclude) for m in parsed.filesystem_mirrors] == [
        ("MIRROR_A", ("registry.terraform.io/acme/*",), ()),
        ("MIRROR_B", (), ("acme/demo",)),
    ]
    heredoc = (
        "provider_installation {\n"
        "  filesystem_mirror {\n"
        '    path = "~/m"\n'
        "    note = <<-EOT\n"
        "      } a brace in a heredoc is text\n"
        "    EOT\n"
        "  }\n"
        "}\n"
    )
    assert parse_cli_config(heredoc, env=env).filesystem_mirrors[0].path == Path("/home/me/m")

    as_json = json.dumps(
        {
            "plugin_cache_dir": "/c",
            "provider_installation": [{"filesystem_mirror": [{"path": "/m", "include": ["a/b"]}]}],
        }
    )
    parsed_json = parse_cli_config(as_json, env=env)
    assert parsed_json.plugin_cache_dir == Path("/c")
    assert parsed_json.filesystem_mirrors[0].include == ("a/b",)

    assert load_cli_config(tmp_path / "missing.rc").filesystem_mirrors == ()


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ('provider_installation {\n  filesystem_mirror {\n    path = "/m"\n  }\n', "5:1"),
        ('plugin_cache_dir = "unterminated\n', "1:20"),
        ("provider_installation {\n  path = [1, 2\n}\n", "3:1"),
        ("/* never closed", "1:1"),
    ],
)
def test_cli_config_errors_name_file_and_line(text: str, where: str) -> None:
    with pytest.raises(ProviderConfigError, match="TF_CLI_CONFIG_FILE") as info:
        parse_cli_config(text, source="/etc/terraformrc")
    assert f"/etc/terraformrc:{where}:" in str(info.value)


async def test_local_versions_first_then_registry_and_upgrade(
    registry: FakeRegistry, tmp_path: Path
) -> None:
    mirror = tmp_path / "mirror"
    local = unpacked_mirror(mirror, "1.0.0")
    registry.add("acme", "demo", "1.0.0")
    registry.add("acme", "demo", "1.3.0")
    settings = make_settings(tmp_path, registry.url, mirrors=[mirror], pinned=registry.key)

    assert (await install_provider("acme/demo", "~> 1.0", settings)).path == local
    assert registry.requests == []  # a local match never asks the registry

    newer = await install_provider("acme/demo", ">= 1.1", settings)  # nothing local fits
    assert newer.version == "1.3.0"
    assert newer.path.is_relative_to(settings.resolved_provider_dir)

    upgraded = await install_provider("acme/demo", "< 1.2", settings, upgrade=True)
    assert upgraded.path == local  # the registry has nothing newer below 1.2

    # Offline upgrades fall back to what is on disk.
    offline = make_settings(tmp_path, _closed_port_url(), mirrors=[mirror])
    assert (await install_provider("acme/demo", None, offline, upgrade=True)).version == "1.3.0"


# ----------------------------------------------------------------- the real AWS provider


def _find_aws_mirror_root() -> Path | None:
    """The mirror root holding the real hashicorp/aws, found the way the project finds it
    (``deploy/find-provider-mirrors.sh`` / $INTENT_PROVIDER_MIRRORS)."""
    binary = find_aws_provider()
    # HOST/NAMESPACE/TYPE/VERSION/OS_ARCH/binary: the root is five levels up.
    return binary.parents[5] if binary is not None else None


@pytest.fixture(scope="module")
def aws_mirror() -> Path | None:
    return _find_aws_mirror_root()


async def test_real_aws_provider_from_the_machine_mirror(
    aws_mirror: Path | None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    require(aws_mirror, "the hashicorp/aws filesystem mirror")
    assert aws_mirror is not None
    settings = make_settings(tmp_path, _closed_port_url(), mirrors=[aws_mirror])

    installed = await install_provider("hashicorp/aws", "~> 5.0", settings)

    assert installed.address.short == "hashicorp/aws"
    assert installed.path.is_relative_to(aws_mirror)
    assert installed.path.name.startswith("terraform-provider-aws_v")
    assert installed.version in installed.path.name
    assert installed.path.stat().st_size > 1_000_000
    if installed.path.name.endswith("_x5"):
        assert installed.protocol_versions == (5,)
    assert len(installed.sha256) == 64

    # The digest comes from the sidecar cache now: prove it by poisoning the hasher.
    def no_rehash(path: Path) -> str:
        raise AssertionError(f"{path} was hashed again")

    monkeypatch.setattr("providers._hashcache.file_sha256", no_rehash)
    again = await install_provider("hashicorp/aws", installed.version, settings)
    assert again == installed

    listed = await list_local_providers(settings, "hashicorp/aws")
    assert installed.version in [p.version for p in listed]


# ------------------------------------------------------------------------------------ CLI


def _cli_env(tmp_path: Path, registry: FakeRegistry) -> dict[str, str]:
    settings = make_settings(tmp_path, registry.url, pinned=registry.key)
    return {
        "INTENT_DATA_DIR": str(tmp_path / "data"),
        "INTENT_REGISTRY_URL": registry.url,
        "INTENT_REGISTRY_TIMEOUT_SECONDS": "5",
        "INTENT_ALLOWED_PROVIDERS": ",".join(settings.allowed_providers),
        "INTENT_PROVIDER_TRUST_DIRS": ":".join(map(str, settings.provider_trust_dirs)),
        "TF_CLI_CONFIG_FILE": str(tmp_path / "no-such-terraformrc"),
    }


def test_cli_install_prints_pinned_version_and_path(registry: FakeRegistry, tmp_path: Path) -> None:
    registry.add("acme", "demo", "1.4.2")
    registry.add("acme", "demo", "2.0.0")
    runner = CliRunner()
    env = _cli_env(tmp_path, registry)

    result = runner.invoke(providers_cli, ["install", "acme/demo@~> 1.0"], env=env)
    assert result.exit_code == 0, result.output
    binary = (
        tmp_path / "data/providers/registry.opentofu.org/acme/demo/1.4.2" / str(HERE)
    ).resolve() / "terraform-provider-demo_v1.4.2_x5"
    assert "acme/demo 1.4.2" in result.output
    assert str(binary) in result.output
    assert "acme/demo@1.4.2" in result.output

    as_json = runner.invoke(providers_cli, ["install", "acme/demo@1.4.2", "--json"], env=env)
    assert json.loads(as_json.output)["version"] == "1.4.2"

    listed = runner.invoke(providers_cli, ["list"], env=env)
    assert listed.exit_code == 0 and "1.4.2" in listed.output and "installed" in listed.output


def test_cli_install_errors_are_one_line_with_the_fix(
    registry: FakeRegistry, tmp_path: Path
) -> None:
    registry.add("acme", "demo", "1.0.0")
    runner = CliRunner()
    env = _cli_env(tmp_path, registry)

    result = runner.invoke(providers_cli, ["install", "acme/demo@>= 5"], env=env)
    assert result.exit_code == 1
    assert "error: no version of acme/demo matches" in result.output

    bad = runner.invoke(providers_cli, ["install", "acme/demo@=> 1"], env=env)
    assert bad.exit_code == 1 and "did you mean '>='" in bad.output


def test_cli_search(registry: FakeRegistry, tmp_path: Path) -> None:
    registry.search_index = [
        {
            "type": "provider",
            "addr": "acme/demo",
            "version": "v1.2.0",
            "title": "demo",
            "description": "Demo widgets for tests",
            "link_variables": {"namespace": "acme", "name": "demo"},
        }
    ]
    runner = CliRunner()
    env = _cli_env(tmp_path, registry)

    result = runner.invoke(providers_cli, ["search", "widgets"], env=env)
    assert result.exit_code == 0, result.output
    assert "acme/demo" in result.output and "1.2.0" in result.output
    assert "Demo widgets for tests" in result.output

    none = runner.invoke(providers_cli, ["search", "nothing-like-this"], env=env)
    assert none.exit_code == 0 and "no provider results" in none.output

    as_json = runner.invoke(providers_cli, ["search", "demo", "--json"], env=env)
    assert json.loads(as_json.output)[0]["addr"] == "acme/demo"

    down = runner.invoke(
        providers_cli,
        ["search", "demo"],
        env={**env, "INTENT_REGISTRY_URL": _closed_port_url()},
    )
    assert down.exit_code == 1 and "error: could not fetch search results" in down.output
