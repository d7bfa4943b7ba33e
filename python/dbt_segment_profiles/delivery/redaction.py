"""Keeping a write key out of texts that servers and exceptions hand back."""

from __future__ import annotations

import base64
import re

REDACTED = "[redacted]"


def _pattern(form: str) -> str:
    # a JSON encoder may escape "/" (a base64 character) as "\/" in an echoed body
    return "".join(r"\\?/" if c == "/" else re.escape(c) for c in form)


class Redactor:
    """Replaces a secret, in every form this project sends it, with `[redacted]`.

    The forms: the raw key, base64 of "key:" (the Basic credentials) and of "key", with or
    without their "=" padding, and the whole `Basic <credentials>` header value. Every occurrence
    goes, even inside a longer word. Meant for error texts only: it is a regex pass per call.
    """

    def __init__(self, secret: str) -> None:
        self._regex: re.Pattern[str] | None = None
        if not secret:
            return
        encoded = [
            base64.b64encode(raw.encode()).decode().rstrip("=") for raw in (f"{secret}:", secret)
        ]
        alternatives = [rf"(?i:basic)\s+{_pattern(encoded[0])}=*"]
        alternatives += [f"{_pattern(form)}=*" for form in encoded]
        alternatives.append(_pattern(secret))
        # longest first, so the header value goes whole rather than leaving "Basic "
        alternatives.sort(key=len, reverse=True)
        self._regex = re.compile("|".join(alternatives))

    def __call__(self, text: str) -> str:
        if self._regex is None:
            return text
        return self._regex.sub(REDACTED, text)

    def __repr__(self) -> str:  # never the secret, not even in a traceback
        return "Redactor()"
