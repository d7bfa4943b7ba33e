"""The subscriptions action: status normalisation, `messaging_subscriptions`, `externalIds`.

Follows Segment's own Send Subscriptions action (see SEGMENT_SPEC.md), except that an unrecognised
status rejects the row with a reason instead of being forwarded as INVALID, and a subscription
group whose value is NULL is left out (README, "Where this differs from Segment's actions").
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

from .values import ValueProblem, describe

SUBSCRIBED = "SUBSCRIBED"
UNSUBSCRIBED = "UNSUBSCRIBED"
DID_NOT_SUBSCRIBE = "DID_NOT_SUBSCRIBE"

STATUS_WORDS = {
    "true": SUBSCRIBED,
    "subscribed": SUBSCRIBED,
    "false": UNSUBSCRIBED,
    "unsubscribed": UNSUBSCRIBED,
    "did_not_subscribe": DID_NOT_SUBSCRIBE,
    "did-not-subscribe": DID_NOT_SUBSCRIBE,
}
EXPECTED_STATUSES = "expected subscribed, unsubscribed, did_not_subscribe, true or false"

# Segment's own wording, so users can search for it.
MISSING_USER_ID = "Either `Anonymous ID` or `User ID` must be defined."
MISSING_IDS = (
    "Either `Email` or `Phone` or `Android_Push_Token` or `Ios_Push_Token` must be defined."
)
MISSING_STATUSES = (
    "If any of `Email`, `Phone`, `Android_Push_Token` or `Ios_Push_Token` is present, "
    "`Email_Subscription` or `Sms_Subscription` or `Whatsapp_Subscription` or "
    "`Ios_Push_Subscription` or `Android_Push_Subscription` must be defined."
)
MISSING_EMAIL = "A valid `Email` must be defined for `Email_Subscription`."
MISSING_PHONE = (
    "A valid `Phone` must be defined for `Sms_Subscription` or `Whatsapp_Subscription`."
)
MISSING_ANDROID_TOKEN = (
    "A valid `Android_Push_Token` must be defined for `Android_Push_Subscription`."
)
MISSING_IOS_TOKEN = "A valid `Ios_Push_Token` must be defined for `Ios_Push_Subscription`."
GROUPS_WITHOUT_EMAIL_STATUS = (
    "`Email_Subscription` must be defined if Subscription Groups are present."
)

# The identifier fields, in channel order, with their externalIds type and the error for a
# status whose identifier is missing.
ID_FIELDS = ("email", "phone", "android_push_token", "ios_push_token")
EXTERNAL_ID_TYPES = ("email", "phone", "android.push_token", "ios.push_token")
MISSING_ID = (MISSING_EMAIL, MISSING_PHONE, MISSING_ANDROID_TOKEN, MISSING_IOS_TOKEN)


class Channel(NamedTuple):
    type: str
    status_field: str
    id_index: int  # into ID_FIELDS


CHANNELS = (
    Channel("EMAIL", "email_subscription_status", 0),
    Channel("SMS", "sms_subscription_status", 1),
    Channel("WHATSAPP", "whatsapp_subscription_status", 1),
    Channel("ANDROID_PUSH", "android_push_subscription_status", 2),
    Channel("IOS_PUSH", "ios_push_subscription_status", 3),
)
STATUS_FIELDS = tuple(channel.status_field for channel in CHANNELS)


def normalise_status(value: Any, column: str) -> str | None:
    """SUBSCRIBED, UNSUBSCRIBED or DID_NOT_SUBSCRIBE; None when NULL or blank (channel left out).

    Raises ValueProblem naming the column and value for anything else.
    """
    if value is None:
        return None
    if isinstance(value, bool):
        return SUBSCRIBED if value else UNSUBSCRIBED
    if isinstance(value, str):
        text = value.strip().lower()
        if not text:
            return None
        status = STATUS_WORDS.get(text)
        if status is not None:
            return status
    raise ValueProblem(
        f"column {column} has subscription status {describe(value)}; {EXPECTED_STATUSES}"
    )


def subscription_group(name: str, value: Any, column: str) -> dict[str, str] | None:
    """A subscription group's entry: {"name", "status"}; only {"name"} for an empty or blank
    value (as Segment sends it); None for NULL, which leaves the group out.

    Raises ValueProblem naming the column and value for an unrecognised status.
    """
    if value is None:
        return None
    status = normalise_status(value, column)
    if status is None:
        return {"name": name}
    return {"name": name, "status": status}


def subscription_context(
    ids: Sequence[str | None],
    statuses: Sequence[str | None],
    groups: list[dict[str, str]],
) -> tuple[list[dict[str, Any]], list[dict[str, str]]] | str:
    """(messaging_subscriptions, externalIds), or Segment's error text for the first check failed.

    `ids` follow ID_FIELDS, `statuses` follow CHANNELS (already normalised), `groups` are the
    subscription groups whose value is not NULL, as {"name", "status"} entries ({"name"} alone
    for an empty value); any of them makes the groups present for Segment's fourth check.
    """
    if not any(ids):
        return MISSING_IDS
    if not any(statuses):
        return MISSING_STATUSES
    for channel, status in zip(CHANNELS, statuses, strict=True):
        if status and not ids[channel.id_index]:
            return MISSING_ID[channel.id_index]
    if groups and not statuses[0]:
        return GROUPS_WITHOUT_EMAIL_STATUS

    subscriptions: list[dict[str, Any]] = []
    for channel, status in zip(CHANNELS, statuses, strict=True):
        if status:
            entry: dict[str, Any] = {
                "key": ids[channel.id_index],
                "type": channel.type,
                "status": status,
            }
            if groups and channel.id_index == 0:
                entry["groups"] = groups
            subscriptions.append(entry)
    external_ids = [
        {"id": id_, "type": id_type, "collection": "users", "encoding": "none"}
        for id_, id_type in zip(ids, EXTERNAL_ID_TYPES, strict=True)
        if id_
    ]
    return subscriptions, external_ids
