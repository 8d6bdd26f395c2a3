"""Bodies of the user-management routes."""

from __future__ import annotations

from pydantic import BaseModel, EmailStr, Field

from spendlens.models import Role


class UserCreate(BaseModel):
    email: EmailStr
    password: str = Field(min_length=8, max_length=256)
    full_name: str = Field(default="", max_length=200)
    role: Role = Role.viewer


class UserUpdate(BaseModel):
    full_name: str | None = Field(default=None, max_length=200)
    role: Role | None = None
    is_active: bool | None = None
