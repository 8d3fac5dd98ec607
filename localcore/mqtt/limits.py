"""AWS IoT Core's MQTT limits: one table of values and of what the broker does when a client
breaks one, and the pure decisions made from it (given a packet's fields: which limit it breaks).

The broker (`localcore.mqtt.broker`) asks `connect_violation`, `publish_violation` and
`subscribe_violation` about each CONNECT, PUBLISH and SUBSCRIBE, and `keep_alive_deadline_s` for
each connection; every check is a few comparisons (``str.isascii`` is O(1), so a topic's size in
bytes is only computed for non-ASCII topics). The lab's own service publishes (events, shadow and
jobs replies, iot-data Publish) are AWS IoT's, not a client's, and are never checked here.

What happens to a client that breaks a limit is one of:

* `DISCONNECT`: the connection is closed, nothing is acknowledged (no PUBACK / SUBACK), the message
  is not delivered, the last will is published (AWS's lifecycle page lists LWT for CLIENT_ERROR and
  MQTT_KEEP_ALIVE_TIMEOUT), the ``disconnected`` lifecycle event carries ``disconnect_reason``.
* `CONNACK_REFUSAL`: CONNACK with ``connack_code``, then the socket closes (no lifecycle events).
* `DROP_CONNECTION`: the socket closes without a CONNACK (no lifecycle events).

Sources (AWS's own pages unless noted):

* QUOTAS: https://docs.aws.amazon.com/general/latest/gr/iot-core.html#message-broker-limits and
  #iot-protocol-limits; the same table in AWS's developer guide as it stood in 2019
  (github.com/awsdocs/aws-iot-docs, developerguide/limits-iot.md at commit b946d0b), which
  spells out the keep-alive rules the current page summarises.
* MQTT_DIFF: https://docs.aws.amazon.com/iot/latest/developerguide/mqtt.html#mqtt-differences
  ("AWS IoT doesn't support publishing or subscribing with QoS level 2. When QoS level 2 is
  requested, the message broker doesn't send a PUBACK or SUBACK").
* PAYLOAD: https://docs.aws.amazon.com/iot/latest/developerguide/topicdata.html ("CLIENT_ERROR
  with reason PAYLOAD_LIMIT_EXCEEDED and 'Message payload exceeds size limit for message type.'").
* LIFECYCLE: https://docs.aws.amazon.com/iot/latest/developerguide/life-cycle-events.html
  (disconnectReason values; CLIENT_ERROR covers "a payload that exceeds the payload limit";
  MQTT_KEEP_ALIVE_TIMEOUT is "no client-server communication for 1.5x the keep-alive time").
* SDK: https://aws.github.io/aws-iot-device-sdk-js-v2/node/enums/mqtt5.ClientExtendedValidationAndFlowControl.html
  (8 subscriptions per SUBSCRIBE, 7 slashes "not counting any AWS rules prefix", topics <= 256
  bytes, client id <= 128 bytes).
* Observed on AWS (third-party reports, the consequence only): a QoS 2 SUBSCRIBE and more than 8
  filters in one SUBSCRIBE close the connection without a SUBACK
  (github.com/aws/aws-iot-device-sdk-embedded-C pull 1941 and issue 1903,
  github.com/dotnet/MQTTnet issue 1427); a QoS 2 PUBLISH disconnects
  (github.com/shamblett/mqtt_client issue 232); a will with QoS 2 gets no CONNACK
  (github.com/bertmelis/espMqttClient issue 116).

Where ``../shared/reference/iot-core-behaviors.md`` differs: its keep-alive row (5-1200 s,
values below 5 treated as 5) is an older page; the 2019 developer guide and the current quotas
page say 30-1200 s, below 30 treated as 30, 0 or above 1200 treated as 1200. It is silent on what
happens to each violation; the consequences below say which are confirmed.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from localcore.iot import iot_logs

from . import lifecycle_events as events

DISCONNECT, CONNACK_REFUSAL, DROP_CONNECTION = "disconnect", "CONNACK refusal", "connection dropped"
IDENTIFIER_REJECTED = 0x02  # MQTT 3.1.1 CONNACK return code

QUOTAS = "https://docs.aws.amazon.com/general/latest/gr/iot-core.html#message-broker-limits"
MQTT_DIFF = "https://docs.aws.amazon.com/iot/latest/developerguide/mqtt.html#mqtt-differences"
PAYLOAD = "https://docs.aws.amazon.com/iot/latest/developerguide/topicdata.html"
LIFECYCLE = "https://docs.aws.amazon.com/iot/latest/developerguide/life-cycle-events.html"
SDK = "https://aws.github.io/aws-iot-device-sdk-js-v2/node/enums/mqtt5.ClientExtendedValidationAndFlowControl.html"

# -- values ---------------------------------------------------------------------------------------
MAX_CLIENT_ID_BYTES = 128  # QUOTAS, SDK
MAX_PAYLOAD_BYTES = 128 * 1024  # QUOTAS ("128 KB"), PAYLOAD
# QUOTAS states the size for "the topic passed ... when sending a publish request" (and the SDK for
# topics); the lab does not apply it to topic filters: AWS does not say it does, and AWS IoT's own
# event topics exceed it with long thing and group names (a subscriber may name them exactly).
MAX_TOPIC_BYTES = 256
MAX_TOPIC_SLASHES = 7  # QUOTAS ("topic and topic filter"), SDK
MAX_QOS = 1  # MQTT_DIFF
MAX_FILTERS_PER_SUBSCRIBE = 8  # QUOTAS, SDK
BASIC_INGEST_PREFIX = "$aws/rules/"  # its first three segments count toward neither size nor depth (QUOTAS)

KEEP_ALIVE_MIN_S = 30  # QUOTAS: a shorter non-zero request is treated as 30 s
KEEP_ALIVE_MAX_S = 1200  # QUOTAS
KEEP_ALIVE_DEFAULT_S = 1200  # QUOTAS (2019 page): used for a request of 0 or above the maximum
KEEP_ALIVE_FACTOR = 1.5  # QUOTAS, LIFECYCLE: disconnected after 1.5x the keep-alive without traffic

CONNECT_TIMEOUT_S = 10.0  # [unconfirmed] AWS documents no deadline for CONNECT after the TLS handshake
TLS_HANDSHAKE_TIMEOUT_S = 10.0  # [unconfirmed] nor for the TLS handshake itself

# Environment variables that override the three settings AWS does not fix, or that tests shrink.
CONNECT_TIMEOUT_ENV = "LOCALCORE_MQTT_CONNECT_TIMEOUT_S"
TLS_HANDSHAKE_TIMEOUT_ENV = "LOCALCORE_MQTT_TLS_TIMEOUT_S"
KEEP_ALIVE_MIN_ENV = "LOCALCORE_MQTT_MIN_KEEP_ALIVE_S"


@dataclass(frozen=True)
class Limit:
    """One limit: its value, what the broker does to a client that breaks it, what it logs."""

    name: str
    value: int
    consequence: str  # DISCONNECT, CONNACK_REFUSAL or DROP_CONNECTION
    log_reason: str  # AWSIotLogsV2 ``reason`` of the failed Connect / Publish-In / Subscribe entry
    details: str  # its ``details``
    source: str
    disconnect_reason: str | None = None  # lifecycle ``disconnectReason`` (DISCONNECT only)
    connack_code: int | None = None  # CONNACK_REFUSAL only
    unconfirmed: str = ""  # which part no AWS page states ("" when all of it is sourced)


CLIENT_ERROR = events.CLIENT_ERROR
LOG_CLIENT_ERROR = iot_logs.CLIENT_ERROR

# -- the table ------------------------------------------------------------------------------------
CLIENT_ID_SIZE = Limit(
    "client id size", MAX_CLIENT_ID_BYTES, CONNACK_REFUSAL, LOG_CLIENT_ERROR,
    f"Client ID exceeds {MAX_CLIENT_ID_BYTES} bytes", QUOTAS, connack_code=IDENTIFIER_REJECTED,
    unconfirmed="the CONNACK code (MQTT 3.1.1's 'identifier rejected', [MQTT-3.1.3-9]) and the log reason",
)
PAYLOAD_SIZE = Limit(
    "payload size", MAX_PAYLOAD_BYTES, DISCONNECT, "PAYLOAD_LIMIT_EXCEEDED",
    "Message payload exceeds size limit for message type.", PAYLOAD, disconnect_reason=CLIENT_ERROR,
)
QOS_2 = Limit(
    "QoS 2", MAX_QOS, DISCONNECT, LOG_CLIENT_ERROR, "QoS 2 is not supported", MQTT_DIFF,
    disconnect_reason=CLIENT_ERROR,
    unconfirmed="the disconnect is observed, not documented; its reason, the log reason and details",
)
TOPIC_SIZE = Limit(
    "topic size", MAX_TOPIC_BYTES, DISCONNECT, LOG_CLIENT_ERROR,
    f"Topic exceeds {MAX_TOPIC_BYTES} bytes", QUOTAS, disconnect_reason=CLIENT_ERROR,
    unconfirmed="the consequence (disconnect), the log reason and details",
)
TOPIC_DEPTH = Limit(
    "topic depth", MAX_TOPIC_SLASHES, DISCONNECT, LOG_CLIENT_ERROR,
    f"Topic has more than {MAX_TOPIC_SLASHES} forward slashes", QUOTAS, disconnect_reason=CLIENT_ERROR,
    unconfirmed="the consequence (disconnect), the log reason and details",
)
FILTERS_PER_SUBSCRIBE = Limit(
    "subscriptions per SUBSCRIBE", MAX_FILTERS_PER_SUBSCRIBE, DISCONNECT, LOG_CLIENT_ERROR,
    f"More than {MAX_FILTERS_PER_SUBSCRIBE} subscriptions in one SUBSCRIBE", QUOTAS,
    disconnect_reason=CLIENT_ERROR,
    unconfirmed="the disconnect is observed, not documented; its reason, the log reason and details",
)
# A last will is checked when the CONNECT arrives: AWS gives a QoS 2 will no CONNACK (observed); a
# will topic over the topic limits is refused the same way [unconfirmed]. (A will message cannot
# exceed 128 KB: MQTT 3.1.1 gives it a 2-byte length.)
WILL_QOS_2 = Limit(
    "will QoS 2", MAX_QOS, DROP_CONNECTION, LOG_CLIENT_ERROR, "QoS 2 is not supported", MQTT_DIFF,
    unconfirmed="the dropped connection is observed, not documented; the log reason and details",
)
WILL_TOPIC_SIZE = Limit(
    "will topic size", MAX_TOPIC_BYTES, DROP_CONNECTION, LOG_CLIENT_ERROR,
    f"Topic exceeds {MAX_TOPIC_BYTES} bytes", QUOTAS, unconfirmed="the consequence and the log reason",
)
WILL_TOPIC_DEPTH = Limit(
    "will topic depth", MAX_TOPIC_SLASHES, DROP_CONNECTION, LOG_CLIENT_ERROR,
    f"Topic has more than {MAX_TOPIC_SLASHES} forward slashes", QUOTAS,
    unconfirmed="the consequence and the log reason",
)
# Keep-alive (the values above): a client silent for `keep_alive_deadline_s` is disconnected with
# this lifecycle reason, and its last will is published (LIFECYCLE).
KEEP_ALIVE_TIMEOUT = events.MQTT_KEEP_ALIVE_TIMEOUT

LIMITS = (
    CLIENT_ID_SIZE, PAYLOAD_SIZE, QOS_2, TOPIC_SIZE, TOPIC_DEPTH, FILTERS_PER_SUBSCRIBE,
    WILL_QOS_2, WILL_TOPIC_SIZE, WILL_TOPIC_DEPTH,
)


@dataclass(frozen=True)
class Violation:
    """A broken limit and what broke it (the topic or filter, for the log entry)."""

    limit: Limit
    topic: str | None = None


# -- decisions ------------------------------------------------------------------------------------

def utf8_size(text: str) -> int:
    return len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))


def counted_part(topic: str) -> str:
    """The part of a topic or filter the size and depth limits count: all of it, except after a
    ``$aws/rules/<rule>/`` basic-ingest prefix (QUOTAS, SDK)."""
    if topic.startswith(BASIC_INGEST_PREFIX):
        end = topic.find("/", len(BASIC_INGEST_PREFIX))
        if end > len(BASIC_INGEST_PREFIX):
            return topic[end + 1:]
    return topic


def topic_limit(topic: str, *, is_filter: bool = False) -> Limit | None:
    """`TOPIC_SIZE` or `TOPIC_DEPTH` when a topic (or, with ``is_filter``, a topic filter: depth
    only) is over AWS's limits, else None."""
    counted = counted_part(topic)
    if not is_filter and utf8_size(counted) > MAX_TOPIC_BYTES:
        return TOPIC_SIZE
    if counted.count("/") > MAX_TOPIC_SLASHES:
        return TOPIC_DEPTH
    return None


def connect_violation(
    client_id: str, will_flag: bool = False, will_qos: int | None = 0, will_topic: str | None = None,
) -> Violation | None:
    """The limit a CONNECT breaks, or None."""
    if utf8_size(client_id) > MAX_CLIENT_ID_BYTES:
        return Violation(CLIENT_ID_SIZE)
    if not will_flag:
        return None
    if (will_qos or 0) > MAX_QOS:
        return Violation(WILL_QOS_2, will_topic)
    broken = topic_limit(will_topic or "")
    if broken is not None:
        return Violation(WILL_TOPIC_SIZE if broken is TOPIC_SIZE else WILL_TOPIC_DEPTH, will_topic)
    return None


def publish_violation(topic: str, payload_size: int, qos: int | None) -> Violation | None:
    """The limit a client's PUBLISH breaks, or None."""
    if (qos or 0) > MAX_QOS:
        return Violation(QOS_2, topic)
    if payload_size > MAX_PAYLOAD_BYTES:
        return Violation(PAYLOAD_SIZE, topic)
    broken = topic_limit(topic)
    return Violation(broken, topic) if broken is not None else None


def subscribe_violation(filters: Sequence[tuple[str, int]]) -> Violation | None:
    """The limit a SUBSCRIBE breaks (the whole request is refused), or None."""
    if len(filters) > MAX_FILTERS_PER_SUBSCRIBE:
        return Violation(FILTERS_PER_SUBSCRIBE, filters[MAX_FILTERS_PER_SUBSCRIBE][0])
    for topic_filter, qos in filters:
        if (qos or 0) > MAX_QOS:
            return Violation(QOS_2, topic_filter)
        if topic_limit(topic_filter, is_filter=True) is not None:
            return Violation(TOPIC_DEPTH, topic_filter)
    return None


def keep_alive_s(requested: int, minimum: float = KEEP_ALIVE_MIN_S) -> float:
    """The keep-alive AWS applies to a requested one: 0 or above the maximum → the default; below
    the minimum → the minimum (QUOTAS)."""
    if requested <= 0 or requested > KEEP_ALIVE_MAX_S:
        return KEEP_ALIVE_DEFAULT_S
    return max(requested, minimum)


def keep_alive_deadline_s(requested: int, minimum: float = KEEP_ALIVE_MIN_S) -> float:
    """Seconds without any packet from the client after which it is disconnected."""
    return KEEP_ALIVE_FACTOR * keep_alive_s(requested, minimum)


# -- settings -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Timeouts:
    """The broker's deadlines: CONNECT after the TLS handshake, the handshake itself, and the
    shortest keep-alive honoured (AWS: 30 s; tests shrink it)."""

    connect_s: float = CONNECT_TIMEOUT_S
    tls_handshake_s: float = TLS_HANDSHAKE_TIMEOUT_S
    keep_alive_min_s: float = KEEP_ALIVE_MIN_S

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> "Timeouts":
        """Defaults, overridden by `CONNECT_TIMEOUT_ENV`, `TLS_HANDSHAKE_TIMEOUT_ENV` and
        `KEEP_ALIVE_MIN_ENV` (positive numbers of seconds)."""
        return cls(
            connect_s=_seconds(environ, CONNECT_TIMEOUT_ENV, CONNECT_TIMEOUT_S),
            tls_handshake_s=_seconds(environ, TLS_HANDSHAKE_TIMEOUT_ENV, TLS_HANDSHAKE_TIMEOUT_S),
            keep_alive_min_s=_seconds(environ, KEEP_ALIVE_MIN_ENV, KEEP_ALIVE_MIN_S),
        )


def _seconds(environ: Mapping[str, str], name: str, default: float) -> float:
    raw = environ.get(name, "")
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SystemExit(f"{name}={raw!r} is not a number of seconds") from None
    if not 0 < value < 86400:
        raise SystemExit(f"{name}={raw!r} must be more than 0 and less than 86400 seconds")
    return value
