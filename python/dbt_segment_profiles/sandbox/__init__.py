"""A loopback stand-in for Segment's Tracking API, for tests, demos and throughput benchmarks.

It answers like Segment where Segment is documented and is stricter where Segment silently drops
data (over 2,500 messages, messages without ids), so a client's mistakes show up as 400s.
"""

from .command import SandboxUnavailable, add_sandbox_arguments, run_sandbox, sandbox_command
from .faults import Faults
from .public_api import PublicApi, public_source
from .server import Sandbox
from .stats import SandboxStats

__all__ = [
    "Faults",
    "PublicApi",
    "Sandbox",
    "SandboxStats",
    "SandboxUnavailable",
    "add_sandbox_arguments",
    "public_source",
    "run_sandbox",
    "sandbox_command",
]
