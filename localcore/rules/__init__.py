"""The rules engine: topic rules stored by moto, run on the messages the broker accepts.

`engine` picks the rules a message reaches and runs them; `actions` holds one function per rule
action type. ``install(lab)`` is called once by `localcore.server.build_lab`.
"""

from .engine import install, stop

__all__ = ["install", "stop"]
