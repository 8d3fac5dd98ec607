"""AWS IoT lifecycle events: what the broker publishes when a client connects, disconnects,
subscribes or unsubscribes (always on; AWS "Lifecycle events", reference section 1.6).

Pure: a `Presence` holds the facts of one connection and builds ``(topic, payload)`` pairs; the
broker stamps the time and publishes them. Client ids holding ``#`` or ``+`` get no events.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

CONNECTED_TOPIC = "$aws/events/presence/connected/{client_id}"
DISCONNECTED_TOPIC = "$aws/events/presence/disconnected/{client_id}"
SUBSCRIBED_TOPIC = "$aws/events/subscriptions/subscribed/{client_id}"
UNSUBSCRIBED_TOPIC = "$aws/events/subscriptions/unsubscribed/{client_id}"

# disconnectReason values the lab produces. AWS also lists FORBIDDEN_ACCESS, SERVER_ERROR,
# API_INITIATED_DISCONNECT, THROTTLED, WEBSOCKET_TTL_EXPIRATION and more:
# https://docs.aws.amazon.com/iot/latest/developerguide/life-cycle-events.html#connect-disconnect
CLIENT_INITIATED_DISCONNECT = "CLIENT_INITIATED_DISCONNECT"
CONNECTION_LOST = "CONNECTION_LOST"
DUPLICATE_CLIENTID = "DUPLICATE_CLIENTID"
AUTH_ERROR = "AUTH_ERROR"  # authentication or authorisation failed (also a denied PUBLISH)
CLIENT_ERROR = "CLIENT_ERROR"  # a protocol error, e.g. a PUBLISH to a forbidden $ topic [unconfirmed]
SERVER_INITIATED_DISCONNECT = "SERVER_INITIATED_DISCONNECT"  # the lab is shutting down
MQTT_KEEP_ALIVE_TIMEOUT = "MQTT_KEEP_ALIVE_TIMEOUT"  # no packet from the client for 1.5x its keep-alive


Event = tuple[str, dict[str, Any]]


def reportable(client_id: str) -> bool:
    """AWS sends no lifecycle events for client ids that contain ``#`` or ``+``."""
    return "#" not in client_id and "+" not in client_id


@dataclass(frozen=True)
class Presence:
    """One connection as lifecycle events describe it.

    ``version`` is AWS's ``versionNumber``: it grows with each connection of a client id and is the
    same in the connected and disconnected events of one connection.
    """

    client_id: str
    session_id: str
    principal: str  # the certificate id for mutual-TLS clients
    ip_address: str
    version: int

    def connected(self, timestamp_ms: int) -> Event:
        return CONNECTED_TOPIC.format(client_id=self.client_id), {
            "clientId": self.client_id,
            "timestamp": timestamp_ms,
            "eventType": "connected",
            "sessionIdentifier": self.session_id,
            "principalIdentifier": self.principal,
            "ipAddress": self.ip_address,
            "versionNumber": self.version,
        }

    def disconnected(self, timestamp_ms: int, *, client_initiated: bool, reason: str) -> Event:
        return DISCONNECTED_TOPIC.format(client_id=self.client_id), {
            "clientId": self.client_id,
            "timestamp": timestamp_ms,
            "eventType": "disconnected",
            "clientInitiatedDisconnect": client_initiated,
            "sessionIdentifier": self.session_id,
            "principalIdentifier": self.principal,
            "disconnectReason": reason,
            "versionNumber": self.version,
        }

    def subscribed(self, timestamp_ms: int, topics: list[str]) -> Event:
        return self._subscriptions(SUBSCRIBED_TOPIC, "subscribed", timestamp_ms, topics)

    def unsubscribed(self, timestamp_ms: int, topics: list[str]) -> Event:
        return self._subscriptions(UNSUBSCRIBED_TOPIC, "unsubscribed", timestamp_ms, topics)

    def _subscriptions(self, template: str, event_type: str, timestamp_ms: int, topics: list[str]) -> Event:
        return template.format(client_id=self.client_id), {
            "clientId": self.client_id,
            "timestamp": timestamp_ms,
            "eventType": event_type,
            "sessionIdentifier": self.session_id,
            "principalIdentifier": self.principal,
            "topics": list(topics),
        }
