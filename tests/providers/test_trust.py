"""Which providers may run: full-address rules, pinned signing keys, lock hashes.

The registries here are real HTTPS servers on 127.0.0.1 (a throwaway CA), serving
validly signed packages; the hash check is compared with the terraform CLI's own.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pgpy
import pytest
from temporalio.testing import WorkflowEnvironment

from providers import PackageVerificationError, install_provider
from providers.install import ProviderNotAllowedError
from providers.models import ProviderAddress
from providers.trust import package_h1, refusal
from settings import Settings
from tests.api.mcp_client import mcp_client, text_of
from tests.providers.registry_server import FakeRegistry, make_signing_key, running_registry
from tests.support.providers import find_aws_provider
from tests.support.requirements import require
from tests.support.stack import run_stack
from tests.support.tls import LocalCA, make_test_ca


@pytest.fixture(scope="module")
def registry_key() -> pgpy.PGPKey:
    return make_signing_key("A registry that is not HashiCorp")


@pytest.fixture(scope="module")
def test_ca(tmp_path_factory: pytest.TempPathFactory) -> LocalCA:
    return make_test_ca(tmp_path_factory.mktemp("ca"))


@pytest.fixture
def https_registry(registry_key: pgpy.PGPKey, test_ca: LocalCA) -> Iterator[FakeRegistry]:
    """An HTTPS registry on 127.0.0.1 serving a validly signed ``hashicorp/aws``."""
    with running_registry(registry_key, tls=test_ca.server_context()) as registry:
        registry.add("hashicorp", "aws", "9.9.9")
        yield registry


def files_under(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def test_address_rules_match_the_whole_source_address() -> None:
    settings = Settings()

    def allowed(source: str) -> bool:
        return refusal(ProviderAddress.parse(source), settings) is None

    assert allowed("hashicorp/aws")
    assert allowed("registry.terraform.io/hashicorp/aws")
    assert not allowed("127.0.0.1:8443/hashicorp/aws")  # same namespace, other host
    assert not allowed("evil.example/hashicorp/aws")
    assert not allowed("hashicorp/local")  # acts on the worker host itself
    assert not allowed("registry.terraform.io/hashicorp/external")
    assert not allowed("acme/widgets")
    message = refusal(ProviderAddress.parse("evil.example/hashicorp/aws"), settings)
    assert message is not None and "INTENT_ALLOWED_PROVIDERS" in message
    # NAMESPACE/TYPE patterns mean the public registries only.
    wider = Settings(allowed_providers=["acme/*"])
    assert refusal(ProviderAddress.parse("acme/widgets"), wider) is None
    assert refusal(ProviderAddress.parse("127.0.0.1:1/acme/widgets"), wider) is not None


async def test_foreign_host_is_refused_before_any_request(
    https_registry: FakeRegistry,
    test_ca: LocalCA,
    registry_key: pgpy.PGPKey,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    host = https_registry.url.removeprefix("https://")
    source = f"{host}/hashicorp/aws"
    settings = Settings(data_dir=tmp_path / "data", registry_timeout_seconds=5)

    with pytest.raises(ProviderNotAllowedError, match="INTENT_ALLOWED_PROVIDERS"):
        await install_provider(source, None, settings)
    assert https_registry.requests == []
    assert files_under(tmp_path) == []

    # The control: allowed, trusted and pinned, the same registry installs fine, so the
    # refusal above is the address rule and nothing else.
    trust = tmp_path / "trust" / "hashicorp"
    trust.mkdir(parents=True)
    (trust / "test.asc").write_text(str(registry_key.pubkey))
    monkeypatch.setenv("SSL_CERT_FILE", str(test_ca.ca_pem))
    opened = Settings(
        data_dir=tmp_path / "data",
        registry_timeout_seconds=5,
        allowed_providers=[f"{host}/hashicorp/*"],
        provider_trust_dirs=[tmp_path / "trust"],
    )
    installed = await install_provider(source, None, opened)
    assert installed.version == "9.9.9" and https_registry.requests


async def test_foreign_host_through_mcp_starts_nothing(
    https_registry: FakeRegistry, temporal_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    host = https_registry.url.removeprefix("https://")
    async with run_stack(temporal_env, tmp_path) as stack:
        token = await stack.token("eve")  # no roles at all
        async with mcp_client(stack.mcp_url, token) as client:
            result = await client.call_tool(
                "provider-describe", {"provider": f"{host}/hashicorp/aws"}
            )
            assert result.is_error
            assert "not allowed on this server" in text_of(result)
            assert "INTENT_ALLOWED_PROVIDERS" in text_of(result)
        queue = stack.settings.temporal_task_queue
        started = [w async for w in stack.client.list_workflows(f"TaskQueue = '{queue}'")]
        assert started == []
    assert https_registry.requests == []
    provider_dir = stack.settings.resolved_provider_dir
    assert not provider_dir.exists() or files_under(provider_dir) == []


async def test_registry_listed_key_is_not_enough_for_hashicorp(
    https_registry: FakeRegistry,
    test_ca: LocalCA,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The registry URL for the default host points at a local registry that signs
    hashicorp/aws with its own (listed) key: only HashiCorp's pinned key would do."""
    monkeypatch.setenv("SSL_CERT_FILE", str(test_ca.ca_pem))
    settings = Settings(
        data_dir=tmp_path / "data", registry_url=https_registry.url, registry_timeout_seconds=5
    )
    with pytest.raises(PackageVerificationError, match="not pinned for 'hashicorp'") as info:
        await install_provider("hashicorp/aws", "9.9.9", settings)
    assert "INTENT_PROVIDER_TRUST_DIRS" in str(info.value)
    assert files_under(settings.resolved_provider_dir) == []


def test_package_hash_is_terraform_h1(tmp_path: Path) -> None:
    binary = find_aws_provider()
    require(binary, "the hashicorp/aws provider in a filesystem mirror")
    require(shutil.which("terraform"), "the terraform CLI (the yardstick for lock hashes)")
    assert binary is not None
    package = binary.parent
    mirror = package.parents[4]
    (tmp_path / "main.tf").write_text(
        'terraform {\n  required_providers {\n    aws = { source = "hashicorp/aws", '
        f'version = "{package.parent.name}" }}\n  }}\n}}\n'
    )
    subprocess.run(
        [
            "terraform",
            "providers",
            "lock",
            f"-fs-mirror={mirror}",
            f"-platform={package.name}",
        ],
        cwd=tmp_path,
        check=True,
        capture_output=True,
        env={"PATH": "/usr/bin:/bin:/usr/local/bin", "HOME": str(tmp_path)},
        timeout=120,
    )
    recorded = re.findall(r'"(h1:[^"]+)"', (tmp_path / ".terraform.lock.hcl").read_text())
    assert recorded == [package_h1(package, tmp_path / "hash-cache")]
