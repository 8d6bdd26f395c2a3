"""Request and response bodies of the auth routes."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, EmailStr, Field

from spendlens.auth.security import MAX_PASSWORD_LENGTH
from spendlens.models import Role


class Token(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int = Field(description="Seconds until the token expires")


class OrganizationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    slug: str
    base_currency: str
    timezone: str


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    email: str
    full_name: str
    role: Role
    is_active: bool


class Me(UserOut):
    organization: OrganizationOut


class SignupIn(BaseModel):
    email: EmailStr
    password: str = Field(min_length=8, max_length=MAX_PASSWORD_LENGTH)
    full_name: str = Field(default="", max_length=200)
    organization_name: str = Field(min_length=1, max_length=200)
    base_currency: str = Field(default="USD", pattern=r"^[A-Z]{3}$")


class SignupAccepted(BaseModel):
    """The same answer whether or not the email already had an account."""

    detail: str


class PasswordChangeIn(BaseModel):
    current_password: str = Field(max_length=MAX_PASSWORD_LENGTH)
    new_password: str = Field(min_length=8, max_length=MAX_PASSWORD_LENGTH)
