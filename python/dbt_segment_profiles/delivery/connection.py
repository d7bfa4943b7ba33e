"""A keep-alive connection to one Tracking API endpoint, settled once instead of per request.

A `requests.Session` reads the environment on every request: the proxy variables (and NO_PROXY),
`REQUESTS_CA_BUNDLE`/`CURL_CA_BUNDLE`, `~/.netrc`. That costs about a third of a millisecond of
CPU per batch, under the GIL the sync builds messages with, and a `.netrc` entry for Segment's
host would even replace the write key's Authorization header. Here requests settles the proxy,
the CA bundle and the TLS context once, through its own code (so HTTPS_PROXY, NO_PROXY, SOCKS
proxies and CA bundles mean what they mean to requests), and each batch is one `urlopen` on the
connection pool it chose.
"""

from __future__ import annotations

from dataclasses import dataclass

import requests
from requests.adapters import HTTPAdapter
from urllib3 import BaseHTTPResponse, Timeout
from urllib3.connectionpool import HTTPConnectionPool
from urllib3.exceptions import HTTPError

__all__ = ["Answer", "Connection", "NoAnswer"]

# everything that means the request got no answer: refused, reset, timed out, TLS, proxy
NoAnswer = (HTTPError, OSError)


@dataclass(frozen=True)
class Answer:
    status: int
    content: bytes
    retry_after: str | None

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", "replace")


class Connection:
    """One keep-alive connection to `url` (through the environment's proxy, if any); not
    thread-safe: a sending thread holds its own."""

    def __init__(self, url: str, timeout: float):
        prepared = requests.Request("POST", url).prepare()
        with requests.Session() as session:
            settings = session.merge_environment_settings(url, {}, None, None, None)
        self._adapter = HTTPAdapter(pool_connections=1, pool_maxsize=1)
        self._pool: HTTPConnectionPool = self._adapter.get_connection_with_tls_context(
            prepared, settings["verify"], settings["proxies"], settings["cert"]
        )
        # the path, or the whole address when an HTTP proxy forwards it
        self._target = self._adapter.request_url(prepared, settings["proxies"])
        self._timeout = Timeout(connect=timeout, read=timeout)

    def post(self, body: bytes, headers: dict[str, str]) -> Answer:
        """POST `body`; raises one of NoAnswer when no HTTP answer came back."""
        response: BaseHTTPResponse = self._pool.urlopen(
            "POST",
            self._target,
            body=body,
            headers=headers,
            retries=False,
            redirect=False,
            assert_same_host=False,
            timeout=self._timeout,
            preload_content=True,
            decode_content=True,
        )
        return Answer(response.status, response.data, response.headers.get("Retry-After"))

    def close(self) -> None:
        self._adapter.close()
