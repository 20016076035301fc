"""Request payloads, validated strictly: unknown fields and wrong types are refused.

Strict mode keeps `"blocked": "yes"` or `"zip": 78701` from being coerced into
something the caller did not mean; query strings use lax mode because every
query value arrives as text.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field

Text = Field(default=None, max_length=256)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class ContactChanges(_Strict):
    first_name: str | None = Text
    last_name: str | None = Text
    email: EmailStr | None = None
    address: str | None = Text
    address2: str | None = Text
    city: str | None = Text
    state: str | None = Text
    zip: str | None = Text
    country: str | None = Text
    extra1: str | None = Text
    extra2: str | None = Text
    extra3: str | None = Text
    extra4: str | None = Text
    extra5: str | None = Text
    custom: dict[str, str | None] | None = None
    status: Literal["active", "inactive"] | None = None
    blocked: bool | None = None


class ContactCreate(ContactChanges):
    number: str = Field(min_length=1, max_length=40)


class ContactListParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    q: str | None = Field(default=None, min_length=1, max_length=100)
    opt_status: Literal["opted_in", "opted_out"] | None = None
    status: Literal["active", "inactive"] | None = None
    blocked: bool | None = None
    group: str | None = Field(default=None, min_length=1, max_length=100)
    sort: Literal["created_at", "last_message_at", "last_name"] = "created_at"
    order: Literal["asc", "desc"] | None = None
    limit: int = Field(default=50, ge=1, le=200)
    cursor: str | None = Field(default=None, max_length=2000)


class FieldCreate(_Strict):
    name: str = Field(min_length=1, max_length=40)
    label: str | None = Field(default=None, max_length=100)
