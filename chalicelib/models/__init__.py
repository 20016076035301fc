"""Table models; `ALL_MODELS` is the one list that local set-up and infra build tables from."""

from chalicelib.models.contacts import Contact
from chalicelib.models.settings import AccountSettings

ALL_MODELS = (Contact, AccountSettings)

__all__ = ["ALL_MODELS", "AccountSettings", "Contact"]
