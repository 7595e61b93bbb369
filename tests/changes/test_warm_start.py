"""Worker start warms the schema cache of the providers in use, in the background."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from temporalio.testing import WorkflowEnvironment

from providers import InstalledProvider
from settings import Settings
from store.db import Database
from store.models import Project, Resource
from store.secrets import SecretBox
from worker import warm_providers, worker_runtime

pytestmark = pytest.mark.slow


async def test_worker_start_caches_the_schemas_of_providers_in_use(
    temporal_env: WorkflowEnvironment,
    tmp_path: Path,
    aws_settings: dict[str, Any],
    aws_provider: InstalledProvider,
) -> None:
    schemas = tmp_path / "schemas"
    settings = Settings(
        **{**aws_settings, "data_dir": tmp_path / "data", "schema_cache_dir": schemas}
    )
    db = Database(settings.resolved_database_url)
    db.use_secrets(SecretBox.from_settings(settings), may_open=True)
    await db.migrate()
    try:
        async with db.transaction() as session:
            project = Project(name="warm", created_by="test")
            session.add(project)
            await session.flush()
            session.add(
                Resource(
                    project_id=project.id,
                    resource_id="b",
                    resource_type="aws_s3_bucket",
                    provider="hashicorp/aws",
                    provider_version="5.100.0",
                    config={},
                )
            )
        assert not schemas.exists()
        async with worker_runtime(temporal_env.client, settings, db) as runtime:
            await warm_providers(runtime)
        assert (schemas / aws_provider.sha256 / "index.json").is_file()
    finally:
        await db.dispose()
