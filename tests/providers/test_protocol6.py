"""The runtime over plugin protocol 6, against the fake provider in ``fake_provider.py``.

No Terraform provider on this machine speaks protocol 6, and the aws provider is a
legacy-SDK one, so this is where strict (non-legacy) plan and apply checks, nested
attribute types and private-data round trips are pinned down precisely.
"""

from __future__ import annotations

import base64
import json
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from providers import (
    UNKNOWN,
    ApplyResult,
    ChangeAction,
    InstalledProvider,
    ProviderAddress,
    ProviderApplyError,
    ProviderClient,
    ProviderCrashedError,
    ProviderError,
    ProviderPool,
    ResourceState,
    SchemaCache,
)
from tests.support.providers import provider_pids

REPO = Path(__file__).resolve().parents[2]


def _gen(state: ResourceState | None) -> int:
    assert state is not None and state.private
    return int(json.loads(base64.b64decode(state.private))["gen"])


@pytest.fixture(scope="module")
def fake_provider(tmp_path_factory: pytest.TempPathFactory) -> InstalledProvider:
    path = tmp_path_factory.mktemp("fake-provider") / "terraform-provider-fake"
    path.write_text(
        f"#!{sys.executable}\n"
        "import runpy, sys\n"
        f"sys.path.insert(0, {str(REPO)!r})\n"
        "runpy.run_module('tests.providers.fake_provider', run_name='__main__')\n"
    )
    path.chmod(0o755)
    return InstalledProvider(
        address=ProviderAddress.parse("example/fake"),
        version="0.1.0",
        path=path,
        sha256="f" * 64,
        protocol_versions=(6,),
    )


@pytest_asyncio.fixture
async def fake_pool(tmp_path: Path, provider_runtime_dir: Path) -> AsyncIterator[ProviderPool]:
    runtime = provider_runtime_dir / f"f{uuid.uuid4().hex[:6]}"
    pool = ProviderPool(size=2, schema_cache=SchemaCache(tmp_path / "schemas"), runtime_dir=runtime)
    try:
        yield pool
    finally:
        await pool.aclose()
        assert provider_pids(runtime) == []


@pytest_asyncio.fixture
async def fake(
    fake_pool: ProviderPool, fake_provider: InstalledProvider
) -> AsyncIterator[ProviderClient]:
    async with fake_pool.client(fake_provider, {}) as client:
        assert client.protocol_version == 6
        yield client


async def test_lifecycle_with_nested_attributes_and_private(fake: ProviderClient) -> None:
    config = {"name": "one", "items": [{"label": "a"}], "tags": {"k": "v"}}
    change = await fake.plan("fake_thing", None, config)
    assert change.action == ChangeAction.CREATE
    assert change.planned is not None
    assert change.planned["items"] == [{"label": "a", "serial": {"$unknown": True}}]
    assert {c.attribute for c in change.diff if c.after_unknown} == {"id", "items[0].serial"}
    created = await fake.apply(change)
    assert created.state is not None
    assert created.state.attributes["id"] == "id-one"
    assert created.state.attributes["items"] == [{"label": "a", "serial": "s-a"}]
    assert created.state.schema_version == 1
    assert _gen(created.state) == 1

    # no-op keeps the stored private; an update plans from it and bumps it
    same = await fake.plan("fake_thing", created.state, config)
    assert same.action == ChangeAction.NO_OP and same.drift == []
    updated_config = {**config, "items": [{"label": "a"}, {"label": "b"}]}
    change = await fake.plan("fake_thing", created.state, updated_config)
    assert change.action == ChangeAction.UPDATE
    assert [c.attribute for c in change.diff] == ["items[1].label", "items[1].serial"]
    updated = await fake.apply(change)
    assert updated.state is not None and _gen(updated.state) == 2
    assert updated.state.attributes["items"][0]["serial"] == "s-a"  # correlated by index
    read = await fake.read(updated.state)
    assert read.state is not None and _gen(read.state) == 2

    # rename: the provider asks for replacement
    change = await fake.plan("fake_thing", updated.state, {**updated_config, "name": "two"})
    assert change.action == ChangeAction.REPLACE and change.replace_paths == ["name"]
    replaced = await fake.apply(change)
    assert replaced.state is not None and replaced.state.attributes["id"] == "id-two"
    assert _gen(replaced.state) == 1  # a new object starts its own private data
    assert not (await fake.read(updated.state)).exists

    deleted = await fake.apply(await fake.plan("fake_thing", replaced.state, None))
    assert deleted.state is None and not (await fake.read(replaced.state)).exists


async def test_strict_checks_for_non_legacy_providers(fake: ProviderClient) -> None:
    with pytest.raises(ProviderError, match="invalid plan") as info:
        await fake.plan("fake_thing", None, {"name": "bad-plan"})
    assert info.value.diagnostics[0].attribute == "name"

    change = await fake.plan("fake_thing", None, {"name": "bad-apply"})
    with pytest.raises(ProviderApplyError, match="inconsistent result") as apply_info:
        await fake.apply(change)
    saved = apply_info.value.result
    assert isinstance(saved, ApplyResult) and saved.state is not None
    assert saved.state.attributes["name"] == "changed-by-provider"  # kept, not dropped

    with pytest.raises(ProviderError, match="write-only"):
        await fake.plan("fake_thing", None, {"name": "wo-leak", "password_wo": "p"})

    change = await fake.plan("fake_thing", None, {"name": "drifty-1"})
    with pytest.raises(ProviderError, match="inconsistent final plan"):
        await fake.apply(change)

    with pytest.raises(ProviderError) as info:
        await fake.plan("fake_thing", None, {"name": "invalid"})
    assert info.value.errors[0].attribute_path == ["name"]


async def test_unknowns_upgrade_import_and_data_source(fake: ProviderClient) -> None:
    change = await fake.plan("fake_thing", None, {"name": "late", "tags": {"ref": UNKNOWN}})
    assert change.config_has_unknowns and change.planned is not None
    assert change.planned["tags"] == {"ref": {"$unknown": True}}
    result = await fake.apply(change, {"name": "late", "tags": {"ref": "known"}})
    assert result.state is not None and result.state.attributes["tags"] == {"ref": "known"}

    # schema version 0 stored "label" where version 1 has "name": upgraded on load
    old = ResourceState(
        type_name="fake_thing", schema_version=0, attributes={"id": "id-late", "label": "late"}
    )
    read = await fake.read(old)
    assert read.state is not None and read.state.attributes["name"] == "late"
    assert read.state.schema_version == 1

    imported = await fake.import_resource("fake_thing", "id-late")
    assert imported.state.attributes["tags"] == {"ref": "known"}
    with pytest.raises(ProviderError, match="non-existent"):
        await fake.import_resource("fake_thing", "id-nothing")

    echo = await fake.read_data_source("fake_echo", {"input": "hi"})
    assert echo.state == {"input": "hi", "output": "HI"}
    deferred = await fake.read_data_source("fake_echo", {"input": UNKNOWN})
    assert deferred.deferred and deferred.state == {
        "input": {"$unknown": True},
        "output": {"$unknown": True},
    }


async def test_crash_mid_call_is_detected(
    fake_pool: ProviderPool, fake_provider: InstalledProvider
) -> None:
    async with fake_pool.client(fake_provider, {}) as client:
        pid = client.process.pid
        with pytest.raises(ProviderCrashedError):
            await client.plan("fake_thing", None, {"name": "crash"})
        assert not client.alive
    async with fake_pool.client(fake_provider, {}) as client:
        assert client.process.pid != pid and client.alive
        change = await client.plan("fake_thing", None, {"name": "fine"})
        assert change.action == ChangeAction.CREATE
