"""Campaigns: opt-in keywords on a business number, and the people who subscribed.

A keyword belongs to at most one active campaign per business number. The
`CampaignKeyword` items are written in the same transaction as the campaign,
each on condition that it does not exist yet, so the first of two racing
campaigns wins and the other gets a 409 naming the word. An archived campaign
releases its keywords (its item keeps the list, so it can take them back when
it is reactivated, if they are still free).

Subscriptions record who joined; whether they may be texted is the opt-out
store's business, read by the one send guard. Subscribing by API therefore
never clears an opt-out: only the person can, by texting a keyword or START.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from pynamodb.exceptions import DeleteError, PutError
from pynamodb.transactions import TransactWrite

from chalicelib.errors import Conflict, NotFound, ValidationFailed
from chalicelib.ids import new_id
from chalicelib.models import Campaign, CampaignKeyword, Contact, Subscription
from chalicelib.models.business_numbers import ACCOUNT
from chalicelib.models.writes import Writer, backoff, condition_failed, write_transaction
from chalicelib.services import business_numbers, consent, optouts
from chalicelib.services.contacts import parse_number
from chalicelib.services.keywords import HELP_WORDS, OPT_IN_WORDS, OPT_OUT_WORDS, normalize
from chalicelib.services.paging import Page, decode_cursor, encode_cursor
from chalicelib.timestamps import iso_z

RESERVED_WORDS = OPT_OUT_WORDS | OPT_IN_WORDS | HELP_WORDS
MAX_KEYWORD_LENGTH = 30
_UPDATE_ATTEMPTS = 6
ACTIVE = "active"
SUBSCRIPTION_SOURCES = ("keyword", "api", "import")


def create(data: Mapping[str, Any]) -> dict[str, Any]:
    business = business_numbers.load(data["business_number"])
    now = datetime.now(UTC)
    campaign = Campaign(
        ACCOUNT,
        new_id("cmp"),
        name=data["name"],
        business_number=business.number,
        keywords=normalize_keywords(data.get("keywords") or []),
        welcome_text=data["welcome_text"],
        help_text=data.get("help_text"),
        status=data.get("status") or ACTIVE,
        created_at=now,
        updated_at=now,
    )
    owned = _owned(campaign)

    def write(tx: TransactWrite) -> None:
        tx.save(campaign, condition=Campaign.id.does_not_exist())
        for keyword in owned:
            tx.save(_keyword_item(campaign, keyword), condition=CampaignKeyword.keyword.does_not_exist())

    if write_transaction(write):
        raise _keyword_taken(campaign.business_number, owned, campaign.id)
    return view(campaign)


def update(campaign_id: str, changes: Mapping[str, Any]) -> dict[str, Any]:
    """Apply `changes`, moving keyword items when the words, the number or the status change.

    The campaign is written on condition that it is unchanged since read, so two
    racing updates cannot leave keyword items that no campaign lists; the loser
    rereads and tries again.
    """
    for name in ("name", "business_number", "welcome_text", "status", "keywords"):
        if name in changes and changes[name] is None:
            raise ValidationFailed(f"{name} cannot be null", field=name)
    business_number = business_numbers.load(changes["business_number"]).number if "business_number" in changes else None
    if business_number is not None:
        _check_not_a_default_elsewhere(campaign_id, business_number)
    keywords = normalize_keywords(changes["keywords"]) if "keywords" in changes else None
    for attempt in range(_UPDATE_ATTEMPTS):
        before = get_campaign(campaign_id)
        after = get_campaign(campaign_id)
        for name, value in changes.items():
            setattr(after, name, value)
        after.business_number = business_number or before.business_number
        after.keywords = keywords if keywords is not None else before.keywords
        after.updated_at = datetime.now(UTC)
        released = _owned(before) - _owned(after) if before.business_number == after.business_number else None
        failed = write_transaction(_move(before, after, released))
        if not failed:
            return view(after)
        if _lost_race(failed, before, released):
            backoff(attempt, 0.05)
            continue
        raise _keyword_taken(after.business_number, _owned(after), campaign_id)
    raise Conflict("the campaign kept changing while it was updated; try again", field="id")


def _move(before: Campaign, after: Campaign, released: set[str] | None) -> Writer:
    """The transaction of an update: drop keywords no longer held, take new ones, write the campaign."""
    dropped = _owned(before) if released is None else released
    taken = _owned(after) - (set() if released is None else _owned(before))
    stamp = before.updated_at

    def write(tx: TransactWrite) -> None:
        for keyword in sorted(dropped):
            tx.delete(
                CampaignKeyword(before.business_number, keyword), condition=CampaignKeyword.campaign_id == before.id
            )
        tx.save(after, condition=Campaign.updated_at == stamp)
        for keyword in sorted(taken):
            tx.save(_keyword_item(after, keyword), condition=CampaignKeyword.keyword.does_not_exist())

    return write


def _check_not_a_default_elsewhere(campaign_id: str, business_number: str) -> None:
    """A number whose STOP opts out of this campaign by default must keep it on that number."""
    for number in business_numbers.list_all():
        if number["campaign_id"] == campaign_id and number["number"] != business_number:
            raise ValidationFailed(
                f"{number['number']} opts out of this campaign by default; change its campaign_id first",
                field="business_number",
            )


def _lost_race(failed: Sequence[int], before: Campaign, released: set[str] | None) -> bool:
    """True when a condition other than a new keyword's failed: the campaign changed underneath us.

    PynamoDB sends deletes before puts, and the campaign is the first put.
    """
    dropped = len(_owned(before) if released is None else released)
    return any(position <= dropped for position in failed)


def normalize_keywords(raw: Iterable[str]) -> list[str]:
    """Keywords as inbound texts are matched against them; reserved and repeated words are refused."""
    seen: list[str] = []
    for position, word in enumerate(raw):
        field = f"keywords.{position}"
        keyword = normalize(word)
        if not keyword:
            raise ValidationFailed(f"keyword {word!r} has no letters or digits", field=field)
        if len(keyword) > MAX_KEYWORD_LENGTH:
            raise ValidationFailed(f"keyword {keyword} is longer than {MAX_KEYWORD_LENGTH} characters", field=field)
        if keyword in RESERVED_WORDS:
            raise ValidationFailed(
                f"keyword {keyword} is reserved for opt-out, opt-in or help and cannot join a campaign", field=field
            )
        if keyword in seen:
            raise ValidationFailed(f"keyword {keyword} is listed twice", field=field)
        seen.append(keyword)
    return seen


def _owned(campaign: Campaign) -> set[str]:
    """The keyword items the campaign holds: its words while active, none once archived."""
    return set(campaign.keywords or []) if campaign.status == ACTIVE else set()


def _keyword_item(campaign: Campaign, keyword: str) -> CampaignKeyword:
    return CampaignKeyword(campaign.business_number, keyword, campaign_id=campaign.id)


def _keyword_taken(business_number: str, wanted: set[str], campaign_id: str) -> Conflict:
    holders = keyword_map(business_number)
    taken = sorted(word for word in wanted if holders.get(word) not in (None, campaign_id))
    word = taken[0] if taken else ", ".join(sorted(wanted))
    owner = holders.get(word, "another campaign")
    return Conflict(f"keyword {word} is already used by campaign {owner} on {business_number}", field="keywords")


def get_campaign(campaign_id: str) -> Campaign:
    try:
        return Campaign.get(ACCOUNT, campaign_id)
    except Campaign.DoesNotExist:
        raise NotFound(f"no campaign {campaign_id}", field="campaign_id") from None


def require(campaign_id: str | None) -> None:
    """Refuse (404) an id that names no campaign, where an opt-out scoped to it would guard nothing.

    An archived campaign still exists and passes: it may be reactivated, and
    its opt-outs must hold when it is. None names no campaign and passes.
    """
    if campaign_id is not None:
        get_campaign(campaign_id)


def list_campaigns() -> list[dict[str, Any]]:
    return [view(item) for item in Campaign.query(ACCOUNT)]


def keyword_map(business_number: str) -> dict[str, str]:
    """{KEYWORD: campaign_id} for the active campaigns on `business_number`: one Query."""
    return {item.keyword: item.campaign_id for item in CampaignKeyword.query(business_number)}


def keyword_owner(business_number: str, word: str) -> str | None:
    """The campaign whose keyword a normalized inbound `word` is on `business_number`; one GetItem, none when too long.

    Inbound texts ask this for every short text that is no reserved word, so
    it reads the one key rather than every keyword of the number.
    """
    if len(word) > MAX_KEYWORD_LENGTH:
        return None
    try:
        return CampaignKeyword.get(business_number, word).campaign_id
    except CampaignKeyword.DoesNotExist:
        return None


def subscribe(campaign_id: str, number: str, source: str = "api") -> bool:
    """Record that `number` joined the campaign; False when it already had (nothing is written then)."""
    if source not in SUBSCRIPTION_SOURCES:
        raise ValidationFailed(f"source must be one of {', '.join(SUBSCRIPTION_SOURCES)}", field="source")
    campaign = get_campaign(campaign_id)
    if campaign.status != ACTIVE:
        raise Conflict(f"campaign {campaign_id} is archived and takes no new subscribers", field="campaign_id")
    item = Subscription(campaign_id, parse_number(number), subscribed_at=datetime.now(UTC), source=source)
    try:
        item.save(condition=Subscription.number.does_not_exist())
    except PutError as error:
        if condition_failed(error):
            return False
        raise
    return True


def unsubscribe(campaign_id: str, number: str) -> bool:
    """Remove the subscription; False when there was none. The opt-out store is left as it is."""
    get_campaign(campaign_id)
    try:
        Subscription(campaign_id, parse_number(number)).delete(condition=Subscription.number.exists())
    except DeleteError as error:
        if condition_failed(error):
            return False
        raise
    return True


def subscriber_numbers(campaign_id: str, page_size: int = 100) -> Iterator[list[str]]:
    """Pages of E.164 numbers subscribed to the campaign (opt-out state not applied: the send guard decides).

    Raises NotFound if unknown: checked before the first page is asked for.
    """
    get_campaign(campaign_id)
    return _pages(campaign_id, page_size)


def _pages(campaign_id: str, page_size: int) -> Iterator[list[str]]:
    page: list[str] = []
    for item in Subscription.query(campaign_id, page_size=page_size, attributes_to_get=["number"]):
        page.append(item.number)
        if len(page) == page_size:
            yield page
            page = []
    if page:
        yield page


def list_subscribers(campaign_id: str, limit: int, cursor: str | None) -> Page:
    """One page of subscribers, each with whether the campaign may text them and, if not, which opt-out forbids it."""
    campaign = get_campaign(campaign_id)
    params = {"campaign_id": campaign_id}
    after = decode_cursor(cursor, params)
    condition = Subscription.number > after if after else None
    items = list(Subscription.query(campaign_id, range_key_condition=condition, limit=limit + 1))
    page, more = items[:limit], len(items) > limit
    contacts = {contact.number: contact for contact in Contact.batch_get([item.number for item in page])}
    sending = consent.Sending(campaign.business_number, consent.Purpose.BROADCAST, campaign_id)
    return Page(
        [_subscriber_view(item, contacts.get(item.number), sending) for item in page],
        encode_cursor(page[-1].number, params) if more else None,
    )


def _subscriber_view(item: Subscription, contact: Contact | None, sending: consent.Sending) -> dict[str, Any]:
    refusing = consent.refusing_scope(contact, sending) if contact is not None else None
    return {
        "number": item.number,
        "subscribed_at": iso_z(item.subscribed_at),
        "source": item.source,
        "opt_status": "opted_in" if refusing is None else "opted_out",
        "opted_out_scope": None if refusing is None else optouts.scope_kind(refusing),
    }


def subscriptions_on(number: str, business_number: str) -> list[Campaign]:
    """The campaigns on `business_number` that `number` subscribed to, newest subscription first.

    One Query on the by-number index and one BatchGetItem (per 100) for the campaigns.
    """
    subscriptions = sorted(Subscription.by_number.query(number), key=lambda s: s.subscribed_at, reverse=True)
    keys = [(ACCOUNT, item.campaign_id) for item in subscriptions]
    campaigns = {campaign.id: campaign for campaign in Campaign.batch_get(keys)} if keys else {}
    ordered = (campaigns.get(item.campaign_id) for item in subscriptions)
    return [campaign for campaign in ordered if campaign is not None and campaign.business_number == business_number]


def view(item: Campaign) -> dict[str, Any]:
    return {
        "id": item.id,
        "name": item.name,
        "business_number": item.business_number,
        "keywords": list(item.keywords or []),
        "welcome_text": item.welcome_text,
        "help_text": item.help_text,
        "status": item.status,
        "created_at": iso_z(item.created_at),
        "updated_at": iso_z(item.updated_at),
    }
