"""Export: a project as Terraform files (HCL, state, lock file), for REST, MCP and the CLI.

The worker writes the files (it alone opens configs and states) and seals them for the
server, which opens them only to hand them to the caller. An export that includes
secrets (the state with its sensitive values) needs ``intent-state:export-secrets`` (space
admins) and is recorded in history; MCP never offers it, because tool output reaches a
language model.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from api.context import Caller
from api.services.access import require
from api.services.projects import load_project, project_path
from api.services.worker import ask
from export import open_files
from store import history
from workflows.lookup import ProjectExportWorkflow
from workflows.models import ExportInput, ExportResult

__all__ = ["ExportRequest", "ExportView", "export_project"]


class ExportRequest(BaseModel):
    include_secrets: bool = Field(
        default=False,
        description="Write sensitive values into terraform.tfstate (needs "
        "intent-state:export-secrets; recorded in history). Without it, resources holding "
        "secrets come in by import blocks.",
    )


class ExportView(BaseModel):
    project: str
    files: dict[str, str] = Field(description="File name → content; write them into one directory")
    resources: list[str] = Field(description="Terraform addresses of the exported resources")
    in_state: list[str] = Field(description="Resources terraform.tfstate holds")
    not_in_state: list[str] = Field(
        default_factory=list, description="Resources holding secrets: bring them in by import"
    )
    variables: dict[str, str] = Field(
        default_factory=dict, description="Sensitive variables to set (TF_VAR_name) → what"
    )
    unverified_imports: list[str] = Field(default_factory=list)
    includes_secrets: bool = False
    next_steps: str


async def export_project(caller: Caller, ref: str, *, include_secrets: bool = False) -> ExportView:
    project = await load_project(caller, ref, "intent-state:read")
    if include_secrets:
        # Without it: export without secrets, and import what holds them.
        require(caller, "intent-state:export-secrets", await project_path(caller, project))
    result: ExportResult = await ask(
        caller,
        ProjectExportWorkflow.run,
        ExportInput(
            project_id=project.id, project_name=project.name, include_secrets=include_secrets
        ),
        kind="export",
        update="export",
        summary=f"export {project.name}" + (" with secrets" if include_secrets else ""),
        project_id=project.id,
    )
    files = open_files(caller.app.box, result.sealed_files)
    async with caller.db.transaction() as session:
        await history.record(
            session,
            subject="project",
            operation="export",
            status="succeeded",
            actor=caller.actor,
            project_id=project.id,
            reasons=["the export includes sensitive values"] if include_secrets else [],
            details={
                "include_secrets": include_secrets,
                "resources": result.resources,
                "in_state": result.in_state,
                "files": result.files,
            },
        )
    steps = (
        "Write the files into an empty directory, set the variables listed (TF_VAR_…) and "
        "your provider credentials, then `terraform init` and `terraform plan` (see "
        "EXPORT.md)."
    )
    return ExportView(
        project=project.name,
        files=files,
        resources=result.resources,
        in_state=result.in_state,
        not_in_state=result.not_in_state,
        variables=result.variables,
        unverified_imports=result.unverified_imports,
        includes_secrets=include_secrets,
        next_steps=steps,
    )
