"""Campaigns: CRUD, keyword validation, keyword races, subscriptions and the subscriber list."""

import json
import threading

import pytest

from chalicelib.errors import Conflict, NotFound, ValidationFailed
from chalicelib.models import CampaignKeyword, Subscription
from chalicelib.services import business_numbers, campaigns, optouts
from tests.conftest import BUSINESS_NUMBER
from tests.test_openapi import User, load_spec

OTHER_NUMBER = "+15125550177"


def body(response):
    return json.loads(response.body)


def new_campaign(as_admin, keywords=("JOIN",), **extra):
    payload = {
        "name": "Spring sale",
        "business_number": BUSINESS_NUMBER,
        "keywords": list(keywords),
        "welcome_text": "Welcome to the spring sale!",
        **extra,
    }
    response = as_admin.post("/campaigns", payload)
    assert response.status_code == 201, response.body
    return body(response)


def keyword_items(number=BUSINESS_NUMBER):
    return {item.keyword: item.campaign_id for item in CampaignKeyword.query(number)}


def test_create_normalizes_keywords_and_reads_back(business, as_admin, as_agent):
    campaign = new_campaign(as_admin, keywords=["join", " Spring-Sale! "], help_text="Spring help")
    assert campaign["id"].startswith("cmp_")
    assert campaign["keywords"] == ["JOIN", "SPRING-SALE"]
    assert campaign["status"] == "active"
    assert campaign["business_number"] == BUSINESS_NUMBER
    assert keyword_items() == {"JOIN": campaign["id"], "SPRING-SALE": campaign["id"]}
    assert body(as_agent.get(f"/campaigns/{campaign['id']}")) == campaign
    assert body(as_agent.get("/campaigns"))["items"] == [campaign]


@pytest.mark.parametrize("word", ["stop", "Start", "HELP", "info", "opt out", "oops", "arrêt"])
def test_reserved_keywords_are_refused_naming_the_word(business, as_admin, word):
    response = as_admin.post(
        "/campaigns",
        {"name": "x", "business_number": BUSINESS_NUMBER, "keywords": ["JOIN", word], "welcome_text": "hi"},
    )
    assert response.status_code == 400
    error = body(response)["error"]
    assert error["code"] == "validation_error"
    assert error["field"] == "keywords.1"
    assert "reserved" in error["message"]
    assert keyword_items() == {}


def test_duplicate_keyword_in_one_campaign_is_refused(business, as_admin):
    response = as_admin.post(
        "/campaigns",
        {"name": "x", "business_number": BUSINESS_NUMBER, "keywords": ["deal", "DEAL!"], "welcome_text": "hi"},
    )
    assert response.status_code == 400
    assert "DEAL" in body(response)["error"]["message"]


def test_keyword_taken_on_the_same_number_is_409_but_free_on_another(business, as_admin):
    first = new_campaign(as_admin, keywords=["DEAL"])
    response = as_admin.post(
        "/campaigns",
        {"name": "y", "business_number": BUSINESS_NUMBER, "keywords": ["fresh", "deal"], "welcome_text": "hi"},
    )
    assert response.status_code == 409
    error = body(response)["error"]
    assert error["code"] == "conflict" and error["field"] == "keywords"
    assert "DEAL" in error["message"] and first["id"] in error["message"]
    assert keyword_items() == {"DEAL": first["id"]}, "the loser's other keywords are not left behind"
    assert len(body(as_admin.get("/campaigns"))["items"]) == 1
    business_numbers.create({"number": OTHER_NUMBER, "name": "Other"})
    second = new_campaign(as_admin, keywords=["DEAL"], business_number=OTHER_NUMBER)
    assert keyword_items(OTHER_NUMBER) == {"DEAL": second["id"]}


def test_unknown_business_number_is_404(business, as_admin):
    response = as_admin.post(
        "/campaigns", {"name": "x", "business_number": "+15125550199", "keywords": [], "welcome_text": "hi"}
    )
    assert response.status_code == 404
    assert body(response)["error"]["field"] == "business_number"


def test_two_campaigns_racing_for_one_keyword_exactly_one_wins(business):
    barrier = threading.Barrier(6)
    outcomes: list[str] = []

    def race(i: int) -> None:
        barrier.wait()
        try:
            campaigns.create(
                {
                    "name": f"c{i}",
                    "business_number": BUSINESS_NUMBER,
                    "keywords": ["RACE", f"OWN{i}"],
                    "welcome_text": "hi",
                }
            )
            outcomes.append("won")
        except Conflict:
            outcomes.append("lost")

    threads = [threading.Thread(target=race, args=(i,)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["lost"] * 5 + ["won"]
    winner = [c for c in campaigns.list_campaigns()]
    assert len(winner) == 1
    owned = keyword_items()
    assert owned["RACE"] == winner[0]["id"]
    assert set(owned) == {"RACE", *[k for k in winner[0]["keywords"] if k != "RACE"]}


def test_patch_moves_keywords_and_business_number(business, as_admin):
    campaign = new_campaign(as_admin, keywords=["JOIN", "DEAL"])
    changed = body(as_admin.patch(f"/campaigns/{campaign['id']}", {"keywords": ["deal", "new"], "name": "Renamed"}))
    assert changed["keywords"] == ["DEAL", "NEW"] and changed["name"] == "Renamed"
    assert keyword_items() == {"DEAL": campaign["id"], "NEW": campaign["id"]}
    business_numbers.create({"number": OTHER_NUMBER, "name": "Other"})
    moved = body(as_admin.patch(f"/campaigns/{campaign['id']}", {"business_number": OTHER_NUMBER}))
    assert moved["business_number"] == OTHER_NUMBER
    assert keyword_items() == {}
    assert keyword_items(OTHER_NUMBER) == {"DEAL": campaign["id"], "NEW": campaign["id"]}


def test_patch_to_a_taken_keyword_changes_nothing(business, as_admin):
    first = new_campaign(as_admin, keywords=["DEAL"])
    second = new_campaign(as_admin, keywords=["JOIN"])
    response = as_admin.patch(f"/campaigns/{second['id']}", {"keywords": ["DEAL"], "name": "Other"})
    assert response.status_code == 409
    assert "DEAL" in body(response)["error"]["message"]
    assert keyword_items() == {"DEAL": first["id"], "JOIN": second["id"]}
    assert body(as_admin.get(f"/campaigns/{second['id']}"))["name"] == "Spring sale"


def test_archiving_releases_keywords_and_reactivating_takes_them_back(business, as_admin):
    campaign = new_campaign(as_admin, keywords=["DEAL"])
    archived = body(as_admin.patch(f"/campaigns/{campaign['id']}", {"status": "archived"}))
    assert archived["status"] == "archived" and archived["keywords"] == ["DEAL"]
    assert keyword_items() == {}
    other = new_campaign(as_admin, keywords=["DEAL"])
    assert as_admin.patch(f"/campaigns/{campaign['id']}", {"status": "active"}).status_code == 409
    as_admin.patch(f"/campaigns/{other['id']}", {"status": "archived"})
    assert as_admin.patch(f"/campaigns/{campaign['id']}", {"status": "active"}).status_code == 200
    assert keyword_items() == {"DEAL": campaign["id"]}


def test_concurrent_patches_leave_keyword_items_matching_the_campaign(business, as_admin):
    campaign = new_campaign(as_admin, keywords=["A0"])
    barrier = threading.Barrier(4)
    outcomes: list[str] = []

    def patch(i: int) -> None:
        barrier.wait()
        try:
            campaigns.update(campaign["id"], {"keywords": [f"K{i}", "SHARED"]})
            outcomes.append("updated")
        except Conflict:
            outcomes.append("gave up")

    threads = [threading.Thread(target=patch, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert "updated" in outcomes and len(outcomes) == 4
    final = campaigns.get_campaign(campaign["id"])
    assert "SHARED" in final.keywords
    assert keyword_items() == {word: campaign["id"] for word in final.keywords}


def test_null_or_unknown_fields_are_refused(business, as_admin):
    campaign = new_campaign(as_admin)
    assert as_admin.patch(f"/campaigns/{campaign['id']}", {"name": None}).status_code == 400
    assert as_admin.patch(f"/campaigns/{campaign['id']}", {"colour": "red"}).status_code == 400
    assert as_admin.patch("/campaigns/cmp_missing", {"name": "x"}).status_code == 404
    assert as_admin.get("/campaigns/cmp_missing").status_code == 404


def test_only_admins_manage_campaigns(business, as_admin, as_supervisor, as_agent):
    campaign = new_campaign(as_admin)
    payload = {"name": "x", "business_number": BUSINESS_NUMBER, "welcome_text": "hi"}
    assert as_supervisor.post("/campaigns", payload).status_code == 403
    assert as_agent.patch(f"/campaigns/{campaign['id']}", {"name": "y"}).status_code == 403
    assert as_agent.get(f"/campaigns/{campaign['id']}/subscribers").status_code == 403
    assert as_supervisor.get(f"/campaigns/{campaign['id']}/subscribers").status_code == 200
    assert as_supervisor.post(f"/campaigns/{campaign['id']}/subscribers", {"number": "5125550111"}).status_code == 403


def test_subscribe_is_idempotent_and_pages_of_numbers_follow(business, as_admin):
    campaign = new_campaign(as_admin)
    numbers = [f"+1512555{n:04d}" for n in range(1200, 1225)]
    assert all(campaigns.subscribe(campaign["id"], number) for number in numbers)
    assert campaigns.subscribe(campaign["id"], numbers[0], source="import") is False
    assert Subscription.get(campaign["id"], numbers[0]).source == "api"
    pages = list(campaigns.subscriber_numbers(campaign["id"], page_size=10))
    assert [len(page) for page in pages] == [10, 10, 5]
    assert sorted(n for page in pages for n in page) == numbers


def test_contract_raises_not_found_for_an_unknown_campaign(business):
    with pytest.raises(NotFound):
        campaigns.subscriber_numbers("cmp_nope")
    with pytest.raises(NotFound):
        campaigns.get_campaign("cmp_nope")
    with pytest.raises(NotFound):
        campaigns.subscribe("cmp_nope", "+15125550111")


def test_subscribe_refuses_a_bad_number_and_an_archived_campaign(business, as_admin):
    campaign = new_campaign(as_admin)
    with pytest.raises(ValidationFailed):
        campaigns.subscribe(campaign["id"], "not a number")
    campaigns.update(campaign["id"], {"status": "archived"})
    with pytest.raises(Conflict):
        campaigns.subscribe(campaign["id"], "+15125550111")


def test_subscribers_api_pages_with_opt_status_in_the_campaign_scope(business, as_admin):
    campaign = new_campaign(as_admin)
    cid = campaign["id"]
    numbers = ["+15125550101", "+15125550102", "+15125550103"]
    for number in numbers:
        response = as_admin.post(f"/campaigns/{cid}/subscribers", {"number": number[2:]})
        assert response.status_code == 201 and body(response)["result"] == "subscribed"
    assert body(as_admin.post(f"/campaigns/{cid}/subscribers", {"number": numbers[0]}))["result"] == (
        "already_subscribed"
    )
    optouts.opt_out(numbers[1], optouts.Scope(cid), source="manual", actor="ada")
    optouts.opt_out(numbers[2], optouts.Scope(), source="manual", actor="ada")
    first = body(as_admin.get(f"/campaigns/{cid}/subscribers?limit=2"))
    second = body(as_admin.get(f"/campaigns/{cid}/subscribers?limit=2&cursor={first['next_cursor']}"))
    assert second["next_cursor"] is None
    rows = first["items"] + second["items"]
    assert [(r["number"], r["opt_status"], r["opted_out_scope"]) for r in rows] == [
        (numbers[0], "opted_in", None),
        (numbers[1], "opted_out", "campaign"),
        (numbers[2], "opted_out", "company"),
    ]
    assert all(r["source"] == "api" for r in rows)


def test_unsubscribe_by_api(business, as_admin):
    campaign = new_campaign(as_admin)
    as_admin.post(f"/campaigns/{campaign['id']}/subscribers", {"number": "+15125550101"})
    gone = as_admin.delete(f"/campaigns/{campaign['id']}/subscribers/%2B15125550101")
    assert body(gone)["result"] == "unsubscribed"
    again = as_admin.delete(f"/campaigns/{campaign['id']}/subscribers/%2B15125550101")
    assert body(again)["result"] == "was_not_subscribed"
    assert list(campaigns.subscriber_numbers(campaign["id"])) == []


def test_campaign_responses_match_the_document(business, as_admin, as_supervisor, as_agent):
    spec = load_spec()
    admin, supervisor, agent = User(spec, as_admin), User(spec, as_supervisor), User(spec, as_agent)
    payload = {"name": "Spring", "business_number": BUSINESS_NUMBER, "keywords": ["spring"], "welcome_text": "Hi"}
    campaign = admin("POST", "/campaigns", 201, body=payload)
    admin("POST", "/campaigns", 409, body=payload)
    admin("POST", "/campaigns", 400, body={**payload, "keywords": ["STOP"]})
    admin("POST", "/campaigns", 404, body={**payload, "business_number": "+15125550199"})
    agent("POST", "/campaigns", 403, body=payload)
    assert [c["id"] for c in agent("GET", "/campaigns", 200)["items"]] == [campaign["id"]]
    one, path = "/campaigns/{campaign_id}", f"/campaigns/{campaign['id']}"
    assert agent("GET", one, 200, path)["keywords"] == ["SPRING"]
    agent("GET", one, 404, "/campaigns/cmp_missing")
    assert admin("PATCH", one, 200, path, {"help_text": "Spring help"})["help_text"] == "Spring help"
    admin("PATCH", one, 400, path, {"status": None})
    admin("PATCH", one, 404, "/campaigns/cmp_missing", {"name": "x"})
    subscribers = one + "/subscribers"
    admin("POST", subscribers, 201, path + "/subscribers", {"number": "5125550134"})
    admin("POST", subscribers, 200, path + "/subscribers", {"number": "5125550134"})
    admin("POST", subscribers, 400, path + "/subscribers", {"number": "123"})
    admin("POST", subscribers, 404, "/campaigns/cmp_missing/subscribers", {"number": "5125550134"})
    page = supervisor("GET", subscribers, 200, path + "/subscribers?limit=1")
    assert page["items"][0]["number"] == "+15125550134"
    supervisor("GET", subscribers, 400, path + "/subscribers?limit=0")
    supervisor("GET", subscribers, 404, "/campaigns/cmp_missing/subscribers")
    agent("GET", subscribers, 403, path + "/subscribers")
    member = subscribers + "/{number}"
    assert admin("DELETE", member, 200, path + "/subscribers/5125550134")["result"] == "unsubscribed"
    admin("DELETE", member, 404, "/campaigns/cmp_missing/subscribers/5125550134")
    admin("PATCH", one, 200, path, {"status": "archived"})
    admin("POST", subscribers, 409, path + "/subscribers", {"number": "5125550134"})
