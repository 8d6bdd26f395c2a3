"""Bodies of the user-management and invitation routes."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, EmailStr, Field

from spendlens.auth.security import MAX_PASSWORD_LENGTH
from spendlens.models import Role


class UserCreate(BaseModel):
    email: EmailStr
    password: str = Field(min_length=8, max_length=MAX_PASSWORD_LENGTH)
    full_name: str = Field(default="", max_length=200)
    role: Role = Role.viewer


class UserUpdate(BaseModel):
    full_name: str | None = Field(default=None, max_length=200)
    role: Role | None = None
    is_active: bool | None = None


class InvitationIn(BaseModel):
    email: EmailStr
    role: Role = Role.viewer


class InvitationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    email: str
    role: Role
    created_at: datetime
    expires_at: datetime
    accepted_at: datetime | None
    invited_by: int | None


class InvitationCreated(InvitationOut):
    token: str = Field(
        description="Shown this once: the invited person accepts with it at "
        "POST /api/v1/auth/invitations/accept"
    )


class InvitationAcceptIn(BaseModel):
    token: str = Field(min_length=1, max_length=200)
    full_name: str = Field(default="", max_length=200)
    password: str = Field(min_length=8, max_length=MAX_PASSWORD_LENGTH)
