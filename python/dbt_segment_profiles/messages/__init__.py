"""Segment messages from warehouse rows: a mapping compiled once into a plan (`plan.py`) that the
Python builder (`compile_mapping(...).build(row, ...)`) and the SQL lane (`sql_lane.py`) follow."""

from .builder import MessageBuilder, Rejection, compile_mapping
from .message_id import MessageIds, message_id_for
from .plan import MessagePlan, compile_plan

__all__ = [
    "MessageBuilder",
    "MessageIds",
    "MessagePlan",
    "Rejection",
    "compile_mapping",
    "compile_plan",
    "message_id_for",
]
