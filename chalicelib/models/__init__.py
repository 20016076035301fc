"""Table models; `ALL_MODELS` is the one list that local set-up and infra build tables from."""

from chalicelib.models.agents import Agent, AgentGroup
from chalicelib.models.broadcasts import Broadcast, BroadcastRecipient, SendWindow
from chalicelib.models.business_numbers import BusinessNumber
from chalicelib.models.campaigns import Campaign, CampaignKeyword, Subscription
from chalicelib.models.contacts import Contact
from chalicelib.models.conversations import Conversation, ConversationAccess, OpenConversation
from chalicelib.models.exports import ExportJob
from chalicelib.models.groups import ContactGroup, GroupMember
from chalicelib.models.imports import ImportJob, ImportRejection
from chalicelib.models.inbound_receipts import InboundReceipt
from chalicelib.models.messages import Message
from chalicelib.models.optouts import OptOut, OptOutHistory, OptOutMark
from chalicelib.models.outbox import Outbox
from chalicelib.models.quick_texts import QuickText
from chalicelib.models.settings import AccountSettings

ALL_MODELS = (
    Contact,
    AccountSettings,
    BusinessNumber,
    Conversation,
    OpenConversation,
    Message,
    OptOut,
    OptOutHistory,
    OptOutMark,
    InboundReceipt,
    Outbox,
    Agent,
    AgentGroup,
    ConversationAccess,
    QuickText,
    ImportJob,
    ImportRejection,
    ExportJob,
    ContactGroup,
    GroupMember,
    Campaign,
    CampaignKeyword,
    Subscription,
    Broadcast,
    BroadcastRecipient,
    SendWindow,
)

__all__ = [
    "ALL_MODELS",
    "AccountSettings",
    "Agent",
    "AgentGroup",
    "Broadcast",
    "BroadcastRecipient",
    "BusinessNumber",
    "Campaign",
    "CampaignKeyword",
    "Contact",
    "ContactGroup",
    "Conversation",
    "ConversationAccess",
    "ExportJob",
    "GroupMember",
    "ImportJob",
    "ImportRejection",
    "InboundReceipt",
    "Message",
    "OpenConversation",
    "OptOut",
    "OptOutHistory",
    "OptOutMark",
    "Outbox",
    "QuickText",
    "SendWindow",
    "Subscription",
]
