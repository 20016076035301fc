"""Wires the Chalice application: blueprints and middleware, no business logic."""

from chalice import Chalice

from chalicelib.api import contacts, custom_fields
from chalicelib.api.middleware import http_middleware

app = Chalice(app_name="sms-engagement")
app.api.cors = True
app.register_middleware(http_middleware, "http")
app.register_blueprint(contacts.blueprint)
app.register_blueprint(custom_fields.blueprint)
