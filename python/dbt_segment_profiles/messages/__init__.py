"""Segment messages from warehouse rows: a mapping compiled once into a plan (`plan.py`) that the
Python builder (`compile_mapping(...).build(row, ...)`) and the SQL lane (`sql_lane.py`) follow."""

from .builder import MAX_MESSAGE_BYTES, MessageBuilder, Rejection, compile_mapping, oversize
from .message_id import MessageIds, message_id_for
from .plan import MessagePlan, compile_plan

__all__ = [
    "MAX_MESSAGE_BYTES",
    "MessageBuilder",
    "MessageIds",
    "MessagePlan",
    "Rejection",
    "compile_mapping",
    "compile_plan",
    "message_id_for",
    "oversize",
]
