"""Segment messages from warehouse rows: `compile_mapping(mapping, columns).build(row, ...)`."""

from .builder import MessageBuilder, Rejection, compile_mapping, message_id_for

__all__ = ["MessageBuilder", "Rejection", "compile_mapping", "message_id_for"]
