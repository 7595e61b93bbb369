"""REST: /api/v1/users (admins) and your own password."""

from __future__ import annotations

from fastapi import APIRouter, status
from pydantic import BaseModel, Field

from api.deps import CallerDep
from api.services import users as svc

router = APIRouter(prefix="/users", tags=["identity"])


class UserCreated(BaseModel):
    user: svc.UserView
    password_link: svc.PasswordLinkView | None


class PasswordSet(BaseModel):
    password: str
    current_password: str | None = Field(
        default=None, description="Your current password, when setting your own."
    )


@router.get("", response_model=list[svc.UserView])
async def list_users(caller: CallerDep) -> list[svc.UserView]:
    return await svc.list_users(caller)


@router.post("", response_model=UserCreated, status_code=status.HTTP_201_CREATED)
async def create_user(caller: CallerDep, body: svc.UserCreate) -> UserCreated:
    """Without a password, the answer carries a one-time link for the user to set one."""
    user, link = await svc.create_user(caller, body)
    return UserCreated(user=user, password_link=link)


@router.post("/{name}/disable", response_model=svc.UserView)
async def disable_user(caller: CallerDep, name: str) -> svc.UserView:
    return await svc.set_disabled(caller, name, True)


@router.post("/{name}/enable", response_model=svc.UserView)
async def enable_user(caller: CallerDep, name: str) -> svc.UserView:
    return await svc.set_disabled(caller, name, False)


@router.put("/{name}/password", response_model=svc.PasswordChanged)
async def set_password(caller: CallerDep, name: str, body: PasswordSet) -> svc.PasswordChanged:
    """Your own (with your current password), or, for user admins, the password of
    someone who holds no more than you. Not with an API key. Ends the user's web
    sessions and app sign-ins; API keys stay."""
    return await svc.set_password(caller, name, body.password, body.current_password)


@router.post("/{name}/password-link", response_model=svc.PasswordLinkView)
async def password_link(caller: CallerDep, name: str) -> svc.PasswordLinkView:
    return await svc.password_link(caller, name)
