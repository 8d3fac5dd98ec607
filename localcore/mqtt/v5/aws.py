"""How AWS IoT Core answers MQTT 5 clients: its CONNACK properties, limits and reason codes, in one table.

Sources:
- MQTT 5 support, its properties and reason codes: https://docs.aws.amazon.com/iot/latest/developerguide/mqtt.html
  ("MQTT 5 supported features", "MQTT 5 properties", "MQTT reason codes")
- Limits (topic aliases, receive maximum, packet size, session expiry): the message broker quotas,
  https://docs.aws.amazon.com/general/latest/gr/iot-core.html#message-broker-limits

Figures or behaviours no AWS page states exactly are marked [unconfirmed]; each is one name here.
"""

from __future__ import annotations

from .. import lifecycle_events as events

# -- what the CONNACK says the server supports (mqtt.html, "MQTT 5 properties") -------------------
TOPIC_ALIAS_MAXIMUM = 8  # "Maximum number of topic aliases per connection": 8 (quotas)
RECEIVE_MAXIMUM = 100  # in-flight QoS 1 messages per connection (quotas: "Maximum inflight unacknowledged messages")
MAXIMUM_PACKET_SIZE = 149_504  # 146 KB: a 128 KB payload plus topic and properties [unconfirmed exact bytes]
MAXIMUM_QOS = 1
SESSION_EXPIRY_MAXIMUM_S = 3600  # persistent sessions last one hour by default (quotas; up to 7 days on request)
SHARED_SUBSCRIPTIONS = 0  # AWS IoT Core supports $share/; the lab does not and says so [lab limitation]
SUBSCRIPTION_IDENTIFIERS = 0  # [unconfirmed] AWS does not list subscription identifiers among its features

CONNACK_PROPERTIES = {
    "receive_maximum": RECEIVE_MAXIMUM,
    "maximum_qos": MAXIMUM_QOS,
    "retain_available": 1,
    "maximum_packet_size": MAXIMUM_PACKET_SIZE,
    "topic_alias_maximum": TOPIC_ALIAS_MAXIMUM,
    "wildcard_subscription_available": 1,
    "subscription_identifier_available": SUBSCRIPTION_IDENTIFIERS,
    "shared_subscription_available": SHARED_SUBSCRIPTIONS,
}

# -- reason codes (MQTT 5.0 section 2.4; the ones AWS lists in "MQTT reason codes") ------------------
SUCCESS = 0x00
NO_SUBSCRIPTION_EXISTED = 0x11
UNSPECIFIED_ERROR = 0x80
MALFORMED_PACKET = 0x81
PROTOCOL_ERROR = 0x82
UNSUPPORTED_PROTOCOL_VERSION = 0x84
CLIENT_IDENTIFIER_NOT_VALID = 0x85
BAD_USER_NAME_OR_PASSWORD = 0x86
NOT_AUTHORIZED = 0x87
SERVER_UNAVAILABLE = 0x88
SERVER_SHUTTING_DOWN = 0x8B
KEEP_ALIVE_TIMEOUT = 0x8D
SESSION_TAKEN_OVER = 0x8E
TOPIC_FILTER_INVALID = 0x8F
TOPIC_NAME_INVALID = 0x90
TOPIC_ALIAS_INVALID = 0x94
PACKET_TOO_LARGE = 0x95
QOS_NOT_SUPPORTED = 0x9B
SHARED_SUBSCRIPTIONS_NOT_SUPPORTED = 0x9E
SUBSCRIPTION_IDENTIFIERS_NOT_SUPPORTED = 0xA1

# MQTT 3.1.1 CONNACK return codes (what amqtt and the lab's screens produce) as MQTT 5 reason codes
CONNACK_CODES = {0: SUCCESS, 1: UNSUPPORTED_PROTOCOL_VERSION, 2: CLIENT_IDENTIFIER_NOT_VALID,
                 3: SERVER_UNAVAILABLE, 4: BAD_USER_NAME_OR_PASSWORD, 5: NOT_AUTHORIZED}

# Why the lab closes a connection (the lifecycle event's disconnectReason) → the DISCONNECT it sends
DISCONNECT_CODES = {
    events.DUPLICATE_CLIENTID: SESSION_TAKEN_OVER,
    events.AUTH_ERROR: NOT_AUTHORIZED,
    events.MQTT_KEEP_ALIVE_TIMEOUT: KEEP_ALIVE_TIMEOUT,
    events.SERVER_INITIATED_DISCONNECT: SERVER_SHUTTING_DOWN,
    events.CLIENT_ERROR: PROTOCOL_ERROR,
}

# Limits broken by a PUBLISH or SUBSCRIBE (`localcore.mqtt.limits`, by Limit.name) → the DISCONNECT reason
LIMIT_CODES = {
    "payload size": PACKET_TOO_LARGE,
    "QoS 2": QOS_NOT_SUPPORTED,
    "topic size": TOPIC_NAME_INVALID,
    "topic depth": TOPIC_NAME_INVALID,
    "subscriptions per SUBSCRIBE": PROTOCOL_ERROR,
}

# A PUBLISH the policies refuse: MQTT 5 lets the server answer with a reason code instead of closing
# the connection. The lab answers a QoS 1 one with PUBACK 0x87 and keeps the connection, and drops a
# QoS 0 one [unconfirmed: AWS lists 0x87 for PUBACK; whether it also disconnects is not stated].
DENIED_PUBLISH_DISCONNECTS = False

# What a subscriber receives of a publisher's properties (MQTT 5.0 section 3.3.2.3: forwarded unaltered)
FORWARDED = ("payload_format_indicator", "message_expiry_interval", "content_type", "response_topic",
             "correlation_data", "user_property")
