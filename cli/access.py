"""``intent spaces`` and ``intent roles``: the space tree, custom roles and role bindings."""

from __future__ import annotations

from typing import Annotated

import typer

from api.services import spaces as svc
from cli.local import DataOpt, local_settings, run_local

__all__ = ["roles_app", "spaces_app"]

spaces_app = typer.Typer(
    help="Spaces: the tree projects and policies live in.", no_args_is_help=True
)
roles_app = typer.Typer(
    help="Roles (sets of intent-<noun>:<verb> actions) and who holds them where.",
    no_args_is_help=True,
)

SpaceOpt = Annotated[str, typer.Option(help="Space (name or id).")]


@spaces_app.command("list")
def list_spaces(data_dir: DataOpt = None) -> None:
    for space in run_local(local_settings(data_dir=data_dir), svc.list_spaces):
        typer.echo(f"{' / '.join(space.path):40} {space.id}  {space.description}")


@spaces_app.command("create")
def create_space(
    name: str,
    parent: Annotated[str, typer.Option(help="Parent space.")] = "root",
    description: str = "",
    data_dir: DataOpt = None,
) -> None:
    body = svc.SpaceCreate(name=name, parent=parent, description=description)
    made = run_local(local_settings(data_dir=data_dir), lambda c: svc.create_space(c, body))
    typer.echo(f"created space {' / '.join(made.path)} ({made.id})")


@spaces_app.command("delete")
def delete_space(name: str, data_dir: DataOpt = None) -> None:
    """Delete an empty space."""
    run_local(local_settings(data_dir=data_dir), lambda c: svc.delete_space(c, name))
    typer.echo(f"deleted space {name}")


@roles_app.command("list")
def list_roles(data_dir: DataOpt = None) -> None:
    for role in run_local(local_settings(data_dir=data_dir), svc.list_roles):
        kind = "built-in" if role.builtin else "custom"
        typer.echo(f"{role.name:16} {kind:9} {role.description}")
        typer.echo(f"{'':27}{', '.join(role.actions)}")


@roles_app.command("actions")
def list_actions() -> None:
    """Every action a role can hold."""
    for action in svc.list_actions():
        typer.echo(f"{action.name:28} {'writes' if action.writes else 'reads ':6}  {action.does}")


@roles_app.command("create")
def create_role(
    name: str,
    action: Annotated[list[str], typer.Option(help="An action it grants (repeat).")],
    description: str = "",
    data_dir: DataOpt = None,
) -> None:
    body = svc.RoleCreate(name=name, actions=action, description=description)
    run_local(local_settings(data_dir=data_dir), lambda c: svc.create_role(c, body))
    typer.echo(f"created role {name}")


@roles_app.command("update")
def update_role(
    name: str,
    action: Annotated[list[str], typer.Option(help="An action it grants (repeat).")],
    description: str = "",
    data_dir: DataOpt = None,
) -> None:
    """Replace a custom role's actions (every binding of it changes with it)."""
    body = svc.RoleUpsert(actions=action, description=description)
    run_local(local_settings(data_dir=data_dir), lambda c: svc.update_role(c, name, body))
    typer.echo(f"updated role {name}")


@roles_app.command("delete")
def delete_role(name: str, data_dir: DataOpt = None) -> None:
    run_local(local_settings(data_dir=data_dir), lambda c: svc.delete_role(c, name))
    typer.echo(f"deleted role {name}")


@roles_app.command("bind")
def bind(
    role: str,
    space: SpaceOpt = "root",
    user: Annotated[str | None, typer.Option(help="A user name.")] = None,
    group: Annotated[str | None, typer.Option(help="A group of the identity provider.")] = None,
    key: Annotated[str | None, typer.Option(help="An API key id or prefix.")] = None,
    data_dir: DataOpt = None,
) -> None:
    """Give ROLE in SPACE (and the spaces below) to one user, group or API key."""
    given = [(kind, value) for kind, value in (("user", user), ("group", group), ("key", key))]
    chosen = [(kind, value) for kind, value in given if value]
    if len(chosen) != 1:
        raise typer.BadParameter("name exactly one of --user, --group or --key")
    kind, subject = chosen[0]
    body = svc.BindingCreate.model_validate(
        {"role": role, "subject_kind": kind, "subject": subject}
    )
    made = run_local(local_settings(data_dir=data_dir), lambda c: svc.bind(c, space, body))
    typer.echo(f"bound {made.role} to {kind} {subject} in {made.space} ({made.id})")


@roles_app.command("bindings")
def bindings(space: SpaceOpt = "root", data_dir: DataOpt = None) -> None:
    for row in run_local(local_settings(data_dir=data_dir), lambda c: svc.list_bindings(c, space)):
        typer.echo(f"{row.id}  {row.role:16} {row.subject_kind:5} {row.subject}")


@roles_app.command("unbind")
def unbind(binding_id: str, space: SpaceOpt = "root", data_dir: DataOpt = None) -> None:
    run_local(local_settings(data_dir=data_dir), lambda c: svc.unbind(c, space, binding_id))
    typer.echo(f"removed binding {binding_id}")
