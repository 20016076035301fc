"""Wires the Chalice application: blueprints and middleware, no business logic."""

from chalice import Chalice

from chalicelib.api import (
    agents,
    broadcasts,
    business_numbers,
    campaigns,
    contacts,
    conversations,
    custom_fields,
    exports,
    groups,
    imports,
    messages,
    optouts,
    quick_texts,
    webhooks,
)
from chalicelib.api.middleware import http_middleware
from chalicelib.events import broadcasts as broadcast_events
from chalicelib.events import exports as export_events
from chalicelib.events import groups as group_events
from chalicelib.events import imports as import_events
from chalicelib.events import sms

app = Chalice(app_name="sms-engagement")
app.api.cors = True
app.register_middleware(http_middleware, "http")
for module in (
    agents,
    contacts,
    custom_fields,
    business_numbers,
    conversations,
    quick_texts,
    campaigns,
    optouts,
    messages,
    webhooks,
    imports,
    exports,
    sms,
    import_events,
    export_events,
    groups,
    group_events,
    broadcasts,
    broadcast_events,
):
    app.register_blueprint(module.blueprint)
