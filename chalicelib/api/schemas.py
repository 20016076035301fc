"""Request payloads, validated strictly: unknown fields and wrong types are refused.

Strict mode keeps `"blocked": "yes"` or `"zip": 78701` from being coerced into
something the caller did not mean; query strings use lax mode because every
query value arrives as text.
"""

from __future__ import annotations

from typing import Annotated, Literal

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


class BusinessNumberChanges(_Strict):
    name: str | None = Field(default=None, min_length=1, max_length=100)
    origination_identity: str | None = Field(default=None, min_length=1, max_length=256)
    appended_message: str | None = Field(default=None, max_length=160)
    help_text: str | None = Field(default=None, min_length=1, max_length=320)
    optout_text: str | None = Field(default=None, min_length=1, max_length=320)
    optout_text_es: str | None = Field(default=None, min_length=1, max_length=320)
    optin_text: str | None = Field(default=None, min_length=1, max_length=320)
    optout_scope: Literal["company", "campaign"] | None = None
    campaign_id: str | None = Field(default=None, min_length=1, max_length=100)
    mps: int | None = Field(default=None, ge=1, le=1000)


class BusinessNumberCreate(BusinessNumberChanges):
    number: str = Field(min_length=1, max_length=40)
    name: str = Field(min_length=1, max_length=100)
    kind: Literal["long_code", "toll_free", "short_code"] = "long_code"


class MediaItem(_Strict):
    url: str = Field(min_length=1, max_length=2048)
    content_type: str | None = Field(default=None, max_length=100)


Id = Annotated[str, Field(min_length=1, max_length=100)]


class MessageCreate(_Strict):
    body: str = Field(default="", max_length=4000)
    media: list[MediaItem] = Field(default_factory=list, max_length=10)
    quick_reply: Id | None = None
    """A quick reply's id, sent (placeholders filled in) instead of `body`."""


class ConversationCreate(MessageCreate):
    business_number: str = Field(min_length=1, max_length=40)
    contact_number: str = Field(min_length=1, max_length=40)


class PreviewRequest(_Strict):
    body: str = Field(max_length=4000)
    business_number: str | None = Field(default=None, max_length=40)


class OptOutCreate(_Strict):
    numbers: list[str] = Field(min_length=1, max_length=100)
    campaign_id: str | None = Field(default=None, min_length=1, max_length=100)
    reason: str = Field(min_length=1, max_length=500)


class OptInParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    campaign_id: str | None = Field(default=None, min_length=1, max_length=100)
    reason: str = Field(min_length=1, max_length=500)


class OptOutListParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    campaign_id: str | None = Field(default=None, min_length=1, max_length=100)
    business_number: str | None = Field(default=None, min_length=1, max_length=40)
    limit: int = Field(default=50, ge=1, le=200)
    cursor: str | None = Field(default=None, max_length=2000)


class OutboxParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    to: str | None = Field(default=None, min_length=1, max_length=40)
    limit: int = Field(default=100, ge=1, le=1000)


class MediaUploadRequest(_Strict):
    content_type: Literal["image/jpeg", "image/png", "image/gif", "video/mp4", "audio/mpeg", "application/pdf"]
    filename: str | None = Field(default=None, max_length=200)


class InboundWebhook(_Strict):
    """The generic signed JSON webhook a carrier or aggregator posts."""

    model_config = ConfigDict(extra="forbid", strict=True, populate_by_name=True)

    id: str = Field(min_length=1, max_length=200)
    from_: str = Field(alias="from", min_length=1, max_length=40)
    to: str = Field(min_length=1, max_length=40)
    body: str = Field(default="", max_length=4000)
    media: list[MediaItem] = Field(default_factory=list, max_length=10)


Username = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[\w.@+-]+$")]
"""What Cognito accepts as a username (letters, digits and `_ . @ + -`)."""
Role = Literal["admin", "supervisor", "agent"]


class AgentCreate(_Strict):
    username: Username
    name: str = Field(min_length=1, max_length=100)
    role: Role


class AgentChanges(_Strict):
    name: str | None = Field(default=None, min_length=1, max_length=100)
    role: Role | None = None
    active: bool | None = None


class AgentGroupChanges(_Strict):
    name: str | None = Field(default=None, min_length=1, max_length=100)
    members: list[Username] | None = None


class AgentGroupCreate(_Strict):
    name: str = Field(min_length=1, max_length=100)
    members: list[Username] = Field(default_factory=list)


class MemberAdd(_Strict):
    username: Username


class ConversationListParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    view: Literal["inbox", "all_open", "closed"] = "inbox"
    q: str | None = Field(default=None, min_length=1, max_length=100)
    agent: Username | None = None
    group: Id | None = None
    business_number: str | None = Field(default=None, min_length=1, max_length=40)
    unread: bool | None = None
    sort: Literal["date", "contact"] = "date"
    order: Literal["asc", "desc"] | None = None
    limit: int = Field(default=25, ge=1, le=100)
    cursor: str | None = Field(default=None, max_length=2000)


class NoteCreate(_Strict):
    body: str = Field(default="", max_length=4000)
    quick_note: Id | None = None
    """A quick note's id, saved as the note instead of `body`."""


class TransferRequest(_Strict):
    agent: Username | None = None
    group: Id | None = None


class BulkClose(_Strict):
    ids: list[Id] | None = Field(default=None, min_length=1, max_length=500)
    """At most `inbox.BULK_CLOSE_LIMIT`, like one `all` batch."""
    all: bool = False


class QuickTextCreate(_Strict):
    title: str = Field(min_length=1, max_length=100)
    text: str = Field(min_length=1, max_length=1600)


class QuickTextChanges(_Strict):
    title: str | None = Field(default=None, min_length=1, max_length=100)
    text: str | None = Field(default=None, min_length=1, max_length=1600)


class CampaignChanges(_Strict):
    name: str | None = Field(default=None, min_length=1, max_length=100)
    business_number: str | None = Field(default=None, min_length=1, max_length=40)
    keywords: list[Annotated[str, Field(min_length=1, max_length=40)]] | None = Field(default=None, max_length=20)
    welcome_text: str | None = Field(default=None, min_length=1, max_length=320)
    help_text: str | None = Field(default=None, min_length=1, max_length=320)
    status: Literal["active", "archived"] | None = None


class CampaignCreate(CampaignChanges):
    name: str = Field(min_length=1, max_length=100)
    business_number: str = Field(min_length=1, max_length=40)
    welcome_text: str = Field(min_length=1, max_length=320)


class SubscriberListParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    limit: int = Field(default=50, ge=1, le=200)
    cursor: str | None = Field(default=None, max_length=2000)


class SubscriptionCreate(_Strict):
    number: str = Field(min_length=1, max_length=40)


class ImportMapping(_Strict):
    columns: dict[str, str] = Field(default_factory=dict, max_length=200)
    """Header as written (or folded) -> a contact field, a custom field, or "ignore"."""
    group: str | None = Field(default=None, min_length=1, max_length=100)
    """A group every imported contact is added to."""


class ImportCreate(_Strict):
    kind: Literal["contacts", "optouts"] = "contacts"
    filename: str = Field(min_length=5, max_length=200, pattern=r"^[^/\\]+\.[cC][sS][vV]$")
    mapping: ImportMapping | None = None
    campaign_id: str | None = Field(default=None, min_length=1, max_length=100, pattern=r"^[^/\\]+$")
    """For an opt-out list: opt the numbers out of this campaign only."""


class ExportCreate(_Strict):
    kind: Literal["contacts", "optouts"]
    q: str | None = Field(default=None, min_length=1, max_length=100)
    opt_status: Literal["opted_in", "opted_out"] | None = None
    status: Literal["active", "inactive"] | None = None
    blocked: bool | None = None
    group: str | None = Field(default=None, min_length=1, max_length=100)
    campaign_id: str | None = Field(default=None, min_length=1, max_length=100)
    """For opt-outs: that campaign's list instead of the company-wide one."""


class BroadcastCreate(_Strict):
    body: str = Field(min_length=1, max_length=1600)
    business_number: str = Field(min_length=1, max_length=40)
    groups: list[Id] = Field(default_factory=list, max_length=50)
    campaigns: list[Id] = Field(default_factory=list, max_length=50)
    numbers: list[Annotated[str, Field(min_length=1, max_length=40)]] = Field(default_factory=list, max_length=1000)
    """Invalid numbers are reported in the response and counted, not refused."""
    send_at: str | None = Field(default=None, min_length=1, max_length=40)
    """ISO 8601 with an offset; absent: now."""


class BroadcastListParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    limit: int = Field(default=50, ge=1, le=200)
    cursor: str | None = Field(default=None, max_length=2000)


class GroupChanges(_Strict):
    name: str | None = Field(default=None, min_length=1, max_length=100)
    category: str | None = Field(default=None, max_length=100)
    description: str | None = Field(default=None, max_length=500)
    query: str | None = Field(default=None, min_length=1, max_length=2000)
    """A dynamic group's query; changing it re-materializes the group."""


class GroupCreate(GroupChanges):
    name: str = Field(min_length=1, max_length=100)
    kind: Literal["static", "dynamic"] = "static"


class GroupContactQuery(_Strict):
    """The filters of `GET /contacts`, selecting contacts to add to or remove from a group."""

    q: str | None = Field(default=None, min_length=1, max_length=100)
    opt_status: Literal["opted_in", "opted_out"] | None = None
    status: Literal["active", "inactive"] | None = None
    blocked: bool | None = None
    group: str | None = Field(default=None, min_length=1, max_length=100)


class GroupMembersChange(_Strict):
    """Either `numbers` (handled in the request) or `query` (handled in the background)."""

    numbers: list[Annotated[str, Field(min_length=1, max_length=40)]] | None = Field(
        default=None, min_length=1, max_length=1000
    )
    query: GroupContactQuery | None = None


class GroupMerge(_Strict):
    model_config = ConfigDict(extra="forbid", strict=True, populate_by_name=True)

    source: Id = Field(alias="from")
    """The group whose members join this one; it is deleted afterwards."""


class GroupMemberListParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    limit: int = Field(default=50, ge=1, le=200)
    cursor: str | None = Field(default=None, max_length=2000)
