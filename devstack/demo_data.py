"""Demo contacts, demo users and their agent records, so a fresh stack has something to look at and someone to be.

Contacts go through the app's own service layer (validation, normalization,
index keys), never straight into the table. The numbers are in the 555-01xx
range that North American numbering reserves for fiction.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

from devstack.tokens import demo_token

DEMO_CONTACTS: tuple[dict[str, Any], ...] = (
    {
        "number": "(512) 555-0101",
        "first_name": "Maria",
        "last_name": "Garcia",
        "email": "maria.garcia@example.com",
        "city": "Austin",
        "state": "TX",
        "zip": "78701",
        "country": "US",
    },
    {
        "number": "+1 737 555 0102",
        "first_name": "James",
        "last_name": "Okafor",
        "city": "Round Rock",
        "state": "TX",
        "zip": "78664",
        "country": "US",
    },
    {
        "number": "206-555-0103",
        "first_name": "Mei",
        "last_name": "Chen",
        "email": "mei.chen@example.com",
        "city": "Seattle",
        "state": "WA",
        "zip": "98101",
        "country": "US",
    },
    {
        "number": "13125550104",
        "first_name": "Liam",
        "last_name": "O'Brien",
        "city": "Chicago",
        "state": "IL",
        "zip": "60601",
        "country": "US",
    },
    {
        "number": "(305) 555-0105",
        "first_name": "Sofia",
        "last_name": "Rossi",
        "email": "sofia.rossi@example.com",
        "city": "Miami",
        "state": "FL",
        "zip": "33101",
        "country": "US",
    },
)


DEMO_BUSINESS_NUMBER: dict[str, Any] = {
    "number": "+15125550100",
    "name": "Acme Demo",
    "appended_message": "Acme: reply STOP to opt out",
}


@dataclass(frozen=True)
class DemoUser:
    """A person to act as: a name, a Cognito group and a token; `seed_agents` gives each an agent record."""

    username: str
    group: str
    env_var: str

    @property
    def token(self) -> str:
        return demo_token(self.username, self.group)


DEMO_USERS: tuple[DemoUser, ...] = (
    DemoUser("ada", "admin", "TOKEN_ADMIN"),
    DemoUser("sam", "supervisor", "TOKEN_SUPERVISOR"),
    DemoUser("alex", "agent", "TOKEN_AGENT"),
    DemoUser("riley", "agent", "TOKEN_AGENT2"),
)


def seed_contacts() -> tuple[int, int]:
    """Create the demo contacts that are missing; returns (created, already there)."""
    from chalicelib.errors import Conflict
    from chalicelib.services import contacts

    created = existing = 0
    for data in DEMO_CONTACTS:
        try:
            contacts.create_contact(data)
        except Conflict:
            existing += 1
        else:
            created += 1
    return created, existing


def seed_business_number() -> str:
    """The number the demo texts from and receives on; created once."""
    from chalicelib.errors import Conflict
    from chalicelib.services import business_numbers

    with contextlib.suppress(Conflict):
        business_numbers.create(DEMO_BUSINESS_NUMBER)
    return DEMO_BUSINESS_NUMBER["number"]


DEMO_CAMPAIGN: dict[str, Any] = {
    "name": "Spring sale",
    "business_number": DEMO_BUSINESS_NUMBER["number"],
    "keywords": ["SPRING"],
    "welcome_text": "Acme: welcome to the spring sale! Msg&data rates may apply. Reply STOP to end.",
}


def seed_campaign() -> str:
    """A campaign whose keyword SPRING, texted to the demo number, subscribes the sender; created once."""
    from chalicelib.services import campaigns

    for campaign in campaigns.list_campaigns():
        if campaign["name"] == DEMO_CAMPAIGN["name"]:
            return campaign["id"]
    return campaigns.create(DEMO_CAMPAIGN)["id"]


DEMO_GROUPS: dict[str, tuple[str, ...]] = {"Sales": ("alex",), "Support": ("riley",)}


def seed_agents() -> int:
    """Agent records for the demo users and their groups; returns how many records were created."""
    from chalicelib.errors import Conflict
    from chalicelib.services import agents

    created = 0
    for user in DEMO_USERS:
        try:
            agents.create_agent({"username": user.username, "name": user.username.title(), "role": user.group})
        except Conflict:
            continue
        created += 1
    existing = {group["name"]: group["id"] for group in agents.list_groups()}
    for name, members in DEMO_GROUPS.items():
        if name not in existing:
            agents.create_group(name, members)
            continue
        for username in members:
            agents.add_member(existing[name], username)
    return created


DEMO_QUICK_TEXTS: dict[str, tuple[tuple[str, str], ...]] = {
    "quick_reply": (
        ("Greeting", "Hi {first_name|there}, thanks for texting Acme! How can we help?"),
        ("Order ready", "Good news {first_name|}: your order is ready for pickup."),
    ),
    "quick_note": (("Escalated", "Escalated to billing"), ("Callback", "Customer asked for a phone call back")),
}


def seed_quick_texts() -> int:
    """Quick replies and notes for the demo, added only when there are none of a kind; returns how many."""
    from chalicelib.services import quick_texts

    created = 0
    for kind_value, texts in DEMO_QUICK_TEXTS.items():
        kind = quick_texts.Kind(kind_value)
        if quick_texts.list_texts(kind):
            continue
        for title, text in texts:
            quick_texts.create(kind, title, text)
            created += 1
    return created


def user_tokens() -> dict[str, str]:
    """One `TOKEN_*` variable per demo user, for `.local/env`."""
    return {user.env_var: user.token for user in DEMO_USERS}
