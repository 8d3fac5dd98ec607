"""The lab's MQTT broker: amqtt carries MQTT 3.1.1 (and, through `localcore.mqtt.v5`, MQTT 5) over
mutual TLS; this module adds AWS IoT Core's rules for who may connect and what each connection may do.

MQTT 5: a CONNECT with protocol level 5 is read by `LabProtocolHandler.init_from_connect`, and the
connection then runs through `v5.V5Reader` / `v5.V5Writer`, which translate between MQTT 5 on the
socket and amqtt's MQTT 3.1.1, keeping what 3.1.1 cannot say (properties, subscription options) in
the connection's `v5.V5State`. Everything below applies to both versions; MQTT 5 clients also get
AWS's answers for it (`localcore.mqtt.v5.aws`): CONNACK properties (topic alias maximum 8, receive
maximum, maximum QoS 1, ...), reason codes for refused connects (0x87, 0x85), subscribes (SUBACK
0x87, 0x9E for ``$share/``), publishes (PUBACK 0x87, the connection stays), unsubscribes (0x11) and
server-side disconnects (DISCONNECT 0x8E, 0x87, 0x8D, 0x8B, 0x95, 0x90, 0x94 ...); session expiry
(at most AWS's hour); message expiry (counted down when delivered, retained messages expire);
user properties, response topic, correlation data and content type forwarded to MQTT 5 subscribers;
topic aliases from clients (1-8); No Local and Retain Handling 2. Not modelled: Receive Maximum flow
control, will delay, subscription identifiers (CONNACK says so), shared subscriptions (SUBACK 0x9E),
and message expiry of messages queued for an offline persistent session.

Why a subclass of ``amqtt.broker.Broker`` and not amqtt plugins: amqtt's plugin hooks can answer
"allowed or not", but a denied PUBLISH is then only dropped, after amqtt has already acknowledged
it (AWS closes an MQTT 3.1.1 client's connection and acknowledges nothing); a PUBLISH to any ``$``
topic is refused outright (AWS accepts ``$aws/things/<thing>/shadow/...``, ``.../jobs/...`` and
``$aws/rules/...`` from devices); authentication happens after amqtt has already replaced the
session of a live client with the same client id; and every hook is an awaited fan-out per
message. The subclass (with `LabProtocolHandler`, amqtt's per-connection handler plus one screen)
is the one seam; each override below is small and says which amqtt method it replaces and why.
Everything else (packet codec, QoS flows, retained messages, persistent sessions, the broadcast
loop) is amqtt's.

What the broker enforces (reference sections 1.6, 4.3, 5, 6, 12, 13):

* TLS 1.2+ only, the client certificate required, trusted when issued by the lab's issuing CA or
  by a CA added at run time with `LabBroker.trust_ca` (RegisterCACertificate).
* CONNECT: the certificate must be registered and usable (`identity`), and ``iot:Connect`` on
  ``client/<clientId>`` allowed; otherwise CONNACK 5 ("not authorised") and the socket closes.
  A second connection with the same client id disconnects the first (DUPLICATE_CLIENTID).
* PUBLISH: ``iot:Publish`` (and ``iot:RetainPublish`` when retained) on ``topic/<t>``; denied →
  the client is disconnected. Clients may publish to their reserved topics (shadow, jobs, basic
  ingest), any other ``$`` topic disconnects them.
* SUBSCRIBE: ``iot:Subscribe`` per filter on ``topicfilter/<f>``; denied → SUBACK 0x80 for it.
* Delivery: ``iot:Receive`` on ``topic/<t>`` for each subscriber; denied → not delivered.
* Lifecycle events on ``$aws/events/presence/...`` and ``$aws/events/subscriptions/...``.
* A certificate that stops being usable (made INACTIVE, REVOKED, deleted, or its CA deactivated)
  loses its live connections within `CERT_RECHECK_INTERVAL_S`.
* AWS IoT Core's MQTT limits (`localcore.mqtt.limits`, one table with sources), checked before the
  policies: client id size (CONNACK refusal), the last will's QoS and topic (no CONNACK),
  QoS 2, payload size, topic size and depth (disconnect, nothing acknowledged or delivered), filters
  per SUBSCRIBE, QoS 2 and depth of a filter (disconnect, no SUBACK); keep-alive (a client silent
  for 1.5x its keep-alive, as AWS applies it, is disconnected with MQTT_KEEP_ALIVE_TIMEOUT and its
  will is published: amqtt's reader already times out, `LabProtocolHandler` acts on it); and
  deadlines for the TLS handshake and for CONNECT after it (`limits.Timeouts`).
* Not enforced: connect-rate, subscriptions-per-connection and throughput limits.
* Policy propagation (``policy_propagation`` of `localcore.realism`, ``LOCALCORE_REALISM=aws``): a
  live connection keeps deciding with the policies it had until a registry change is that many
  seconds old, as AWS takes a moment to apply an attached or changed policy [unconfirmed figure].
  A new connection decides with the registry as it is (the lab keeps no history of it).
* MQTT over WebSockets (wss, path ``/mqtt``) on ``LOCALCORE_WS_PORT``, authenticated by a SigV4
  signature of the upgrade request instead of a certificate (`websockets_listener`): everything
  above applies the same, but such a connection is authorised as the lab's IAM identity, the
  account's admin, so every ``iot:*`` action is allowed ([unconfirmed]: AWS evaluates the IAM
  policies of the signing identity).

Hooks for later features, each called on the broker's loop only if the lab defines it (they must
return quickly and are isolated: an exception is logged, never passed to the client):

* ``lab.on_message(topic, payload, client_id)``: every message accepted from a client and every
  service publish (``client_id`` None) — the rules engine's feed.
* ``lab.on_jobs_request(thing_name, topic, payload, client_id)``: a client published to
  ``$aws/things/<thing>/jobs/...`` (the message is also delivered to subscribers).
* ``lab.on_basic_ingest(rule_name, topic, payload, client_id)``: a client published to
  ``$aws/rules/<rule>/...`` (basic ingest: never delivered to subscribers).
* ``lab.on_unknown_certificate(chain_ders, client_id)``: see `localcore.mqtt.identity`.
* ``lab.iot_log(event_type, level, **fields)``: AWS IoT's log entries (fine-grained logging) for
  connects (and refusals), disconnects, publishes in (and refusals), deliveries out and
  subscriptions (and refusals); see `localcore.aws.iot_logging`.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import ssl
import sys
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable

import websockets.asyncio.server
from amqtt.adapters import BufferReader, WebSocketsReader
from amqtt.broker import Broker, RetainedApplicationMessage
from amqtt.contexts import Action, ListenerType
from amqtt.errors import AMQTTError, MQTTError, NoDataError
from amqtt.mqtt.connack import NOT_AUTHORIZED, ConnackPacket
from amqtt.mqtt.constants import QOS_0
from amqtt.mqtt.disconnect import DisconnectPacket
from amqtt.mqtt.protocol.broker_handler import BrokerProtocolHandler
from amqtt.mqtt.puback import PubackPacket
from amqtt.mqtt.publish import PublishPacket
from amqtt.session import Session

from localcore import realism
from localcore.iot import iot_logs
from localcore.iot.shadow import parse_shadow_topic

from . import alpn
from . import lifecycle_events as events
from . import limits, session_state, websockets_listener
from .reader_loop import read_packets
from .authorizer import (
    BASIC_INGEST,
    CONNECT,
    JOBS,
    PUBLISH,
    RECEIVE,
    SHADOW,
    SUBSCRIBE,
    UNRESTRICTED,
    ConnectionAuthorizer,
    PolicyBook,
    Unrestricted,
    publish_problem,
    reserved_topic,
    resolve_grants,
)
from .identity import (
    AutoRegistrationStarted,
    ConnectionRefused,
    Identity,
    console_certificate_id,
    console_credentials,
    identify,
    peer_chain,
    registry_problem,
)
from .shadow_service import answer_request, shadow_store
from .v5 import aws as v5_aws
from .v5 import bridge as v5
from .v5 import codec as v5_codec

log = logging.getLogger("localcore.mqtt")

CONNECTION = "localcore.connection"  # key of our Connection in amqtt's Session.attributes
# AWS keeps a persistent session (CONNECT with cleanSession=0) for one hour by default.
PERSISTENT_SESSION_EXPIRY_S = 3600
CERT_RECHECK_INTERVAL_S = 1.0
EVICTION_TIMEOUT_S = 5.0
EVENT_QOS = 0  # [unconfirmed] QoS of lifecycle events

_AMQTT_ACTIONS = {Action.SUBSCRIBE: SUBSCRIBE, Action.RECEIVE: RECEIVE, Action.PUBLISH: PUBLISH}


# asyncio gives every TLS connection a 256 KiB read buffer (``SSLProtocol.max_size``): 250 MB for a
# class fleet of 1,000 devices. MQTT packets here are at most 128 KB and TLS records 16 KiB, so the lab
# reads at most this much at a time (`bench/fleet.py` measures the lab's memory).
TLS_READ_BUFFER_BYTES = 32 * 1024


def _smaller_tls_read_buffers() -> None:
    import asyncio.sslproto

    asyncio.sslproto.SSLProtocol.max_size = TLS_READ_BUFFER_BYTES


def server_tls_context(pki: Any) -> ssl.SSLContext:
    """TLS 1.2+, the lab's server chain, client certificates required and checked against the
    issuing CA (not self-signed, hence ``VERIFY_X509_PARTIAL_CHAIN``); ALPN as `alpn` says."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(str(pki.server_cert_chain_path), str(pki.server_key_path))
    context.verify_mode = ssl.CERT_REQUIRED
    context.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN
    for pem in pki.trusted_ca_pems():
        context.load_verify_locations(cadata=pem)
    return alpn.screen(context)  # ALPN x-amzn-mqtt-ca (MQTT on 443 at AWS) or none; others refused


class LabProtocolHandler(BrokerProtocolHandler):
    """amqtt's per-connection protocol handler with a screen in front of each PUBLISH's QoS flow,
    and a hook for a silent client.

    amqtt acknowledges a QoS 1/2 PUBLISH before the broker looks at it; AWS never acknowledges a
    refused one (it closes the connection), so the decision must come first. amqtt's reader waits
    for each packet at most ``session.keep_alive`` seconds, then calls `handle_read_timeout`, which
    amqtt's broker handler ignores; here it calls ``on_idle``.
    """

    screen: Callable[[Session, PublishPacket], bool] | None = None
    route: Callable[[Session, PublishPacket], Any] | None = None  # the broker's routing of a screened PUBLISH
    on_idle: Callable[[], None] | None = None
    v5: v5.V5State | None = None  # an MQTT 5 connection (`localcore.mqtt.v5.bridge`)

    @classmethod
    async def init_from_connect(cls, reader, writer, plugins_manager, loop=None):
        """Reads the CONNECT: MQTT 3.1.1 goes to amqtt as before; protocol level 5 is read here and the
        connection then runs through `v5.V5Reader` / `v5.V5Writer`."""
        packet = await v5.read_packet(reader)
        if packet is None:
            raise NoDataError("the connection closed before its CONNECT")
        first, body = packet
        if first >> 4 != v5_codec.CONNECT or v5.protocol_level(body) != v5_codec.PROTOCOL_LEVEL:
            replay = BufferReader(bytes([first]) + v5_codec.varint(len(body)) + body)
            return await super().init_from_connect(replay, writer, plugins_manager, loop=loop)
        try:
            connect = v5_codec.decode_connect(body)
        except v5_codec.MalformedPacket as error:
            await _close_quietly(writer, raw=v5_codec.encode_connack(False, error.reason))
            raise MQTTError(f"malformed MQTT 5 CONNECT: {error}") from None
        properties = connect["properties"]
        expiry = min(properties.get("session_expiry_interval", 0), v5_aws.SESSION_EXPIRY_MAXIMUM_S)
        state = v5.V5State(clean_start=connect["clean_start"], session_expiry_s=expiry, writer=writer)
        state.connack_properties = v5.connack_properties(properties)
        session = Session()
        session.client_id = connect["client_id"]
        if not session.client_id:  # MQTT 5 lets the server name the client, and say so in CONNACK
            session.client_id = f"lab-{uuid.uuid4().hex}"
            state.connack_properties["assigned_client_identifier"] = session.client_id
        session.clean_session = expiry == 0
        will = connect["will"]
        session.will_flag = will is not None
        if will is not None:
            session.will_retain, session.will_qos = will["retain"], will["qos"]
            session.will_topic, session.will_message = will["topic"], will["payload"]
        session.username = connect["username"]
        session.password = connect["password"]
        peer = writer.get_peer_info() or (None, None)
        session.remote_address, session.remote_port = peer
        session.ssl_object = writer.get_ssl_info()
        session.keep_alive = connect["keep_alive"]
        handler = cls(plugins_manager, loop=loop)
        handler.v5 = state
        return handler, session

    async def _reader_loop(self) -> None:
        await read_packets(self)  # `localcore.mqtt.reader_loop`: in order, no task per PUBLISH, nothing dropped

    def attach(self, session: Session, reader: Any, writer: Any) -> None:
        if self.v5 is not None:
            self.v5.writer = writer
            reader, writer = v5.V5Reader(reader, self.v5), v5.V5Writer(writer, self.v5)
        super().attach(session, reader, writer)

    async def handle_publish(self, publish_packet: PublishPacket) -> None:
        if self.v5 is not None:  # the properties the reader kept for this PUBLISH (read in order)
            publish_packet.v5_properties = self.v5.incoming.popleft() if self.v5.incoming else {}
        if self.screen is not None and self.session is not None and not self.screen(self.session, publish_packet):
            return
        packet_id = publish_packet.packet_id
        if self.route is None or self.session is None or publish_packet.qos not in (0, 1) \
                or (publish_packet.qos == 1 and packet_id is None):
            await super().handle_publish(publish_packet)
            return
        # The short way (replaces amqtt's queue → client loop → delivery task for QoS 0 and 1): route
        # the message in this task, then acknowledge it. Fewer tasks per message, and a DISCONNECT
        # read after a PUBLISH can no longer overtake it (amqtt dropped messages still queued).
        await self.route(self.session, publish_packet)
        if publish_packet.qos == 1:
            await self._send_packet(PubackPacket.build(packet_id))

    def handle_read_timeout(self) -> None:
        if self.on_idle is not None:
            self.on_idle()


@dataclass(eq=False)
class Connection:
    """One admitted network connection (amqtt's Session may outlive it)."""

    client_id: str
    identity: Identity
    authorizer: ConnectionAuthorizer | Unrestricted
    presence: events.Presence | None  # None: no lifecycle events (console, or '#'/'+' in the id)
    closed: asyncio.Event = field(default_factory=asyncio.Event)
    handler: BrokerProtocolHandler | None = None
    closing: bool = False  # the lab is disconnecting it: ignore what it still sends
    reason: str = events.CONNECTION_LOST
    client_initiated: bool = False
    v5: v5.V5State | None = None  # an MQTT 5 connection


class LabBroker(Broker):
    """amqtt's broker with AWS IoT Core's authentication, authorisation and reserved topics.

    ``enforce_policies=False`` skips policy checks for everyone (benchmarks compare both); AWS's
    MQTT limits apply either way. ``timeouts`` default to `limits.Timeouts.from_env`.
    """

    def __init__(self, lab: Any, *, enforce_policies: bool = True, timeouts: limits.Timeouts | None = None) -> None:
        self.lab = lab
        self.enforce_policies = enforce_policies
        self.timeouts = timeouts if timeouts is not None else limits.Timeouts.from_env()
        self.policy_book = PolicyBook()
        self._policy_lag = realism.delay("policy_propagation")
        self._registry_seen: realism.Lagging[int] = realism.Lagging(lambda: self._policy_lag)
        _smaller_tls_read_buffers()
        session_state.install()  # amqtt's sessions without a `transitions` machine each
        self.tls = server_tls_context(lab.pki)
        self.ws_tls = websockets_listener.server_tls_context(lab.pki)
        self.upgrade_check = websockets_listener.UpgradeCheck(lambda: lab.config.credentials, lab.config.region)
        for ca in list(lab.iot.ca_certificates.values()):
            self.trust_ca(ca.certificate_pem)
        cert_path, _key_path = console_credentials(lab)
        self.console_certificate_id = console_certificate_id(cert_path)
        self._connections: dict[str, Connection] = {}
        self._versions: dict[str, int] = {}
        self._recheck: asyncio.Task | None = None
        self._closing: set[asyncio.Task] = set()
        # Retained messages while amqtt does not hold them (its start and shutdown clear its store):
        # the saved ones before start, the last ones after shutdown; None while amqtt holds them.
        self._held_retained: dict[str, tuple[bytes, int | None]] | None = {}
        # MQTT 5 properties of retained messages, and when they were stored (for message expiry)
        self._retained_properties: dict[str, tuple[dict, float]] = {}
        shadow_store(lab)
        super().__init__({
            "listeners": {
                "default": {"type": "tcp", "bind": f"{lab.config.host}:{lab.config.mqtt_port}", "ssl": True},
                "websockets": {"type": "ws", "bind": f"{lab.config.host}:{lab.config.ws_port_or_default}", "ssl": True},
            },
            "plugins": {},  # none: every check is inline (see the module docstring)
            "session_expiry_interval": PERSISTENT_SESSION_EXPIRY_S,
        })
        lab.durable("retained", self._dump_retained, self._load_retained)

    # -- the lab's API ---------------------------------------------------------------------

    async def start(self) -> None:
        await super().start()  # amqtt starts with no retained messages: put back the saved ones
        for topic, (data, qos) in (self._held_retained or {}).items():
            self._retained_messages[topic] = RetainedApplicationMessage(None, topic, data, qos)
        self._held_retained = None
        self._recheck = asyncio.create_task(self._recheck_certificates())

    # -- retained messages are durable, as on AWS IoT --------------------------------------------
    async def retain_message(self, source_session, topic_name, data, qos=None) -> None:
        await super().retain_message(source_session, topic_name, data, qos)
        self.lab.changed()

    def _dump_retained(self) -> dict[str, tuple[bytes, int | None]]:
        if self._held_retained is not None:
            return dict(self._held_retained)
        return {topic: (bytes(message.data), message.qos)
                for topic, message in dict(self._retained_messages).items() if message.data}

    def _load_retained(self, saved: dict[str, tuple[bytes, int | None]]) -> None:
        self._held_retained = dict(saved)

    async def shutdown(self) -> None:
        if self._recheck is not None:
            self._recheck.cancel()
        for connection in list(self._connections.values()):
            connection.closing, connection.reason = True, events.SERVER_INITIATED_DISCONNECT
        self._held_retained = self._dump_retained()  # amqtt's shutdown forgets them; the last save must not
        await super().shutdown()

    def trust_ca(self, pem: str) -> None:
        """Trust device certificates issued by ``pem`` from the next TLS handshake on."""
        self.tls.load_verify_locations(cadata=pem)

    async def publish_from_service(self, topic: str, data: bytes, qos: int = 0, retain: bool = False) -> None:
        """Publish as AWS IoT itself does (events, shadow replies, iot-data Publish)."""
        await self._broadcast_message(None, topic, data, force_qos=qos)
        if retain:
            await self.retain_message(None, topic, data, qos)
        self.call_hook("on_message", topic, data, None)

    def connected_count(self) -> int:
        return len(self._connections)

    def is_connected(self, client_id: str) -> bool:
        return client_id in self._connections

    def connected_client_ids(self) -> list[str]:
        return list(self._connections)

    def principal_of(self, client_id: str) -> str | None:
        """The certificate id of a connected client (what the rules SQL ``principal()`` returns)."""
        connection = self._connections.get(client_id)
        return connection.identity.certificate_id if connection is not None else None

    # -- admission (replaces amqtt's CONNECT handling) -----------------------------------------

    async def _initialize_client_session(
        self, reader: Any, writer: Any, remote_address: str, remote_port: int
    ) -> tuple[BrokerProtocolHandler, Session]:
        """Replaces amqtt's: admit the client before any stored session is touched (amqtt deletes
        or resumes the session of a live client with the same id first, and a resumed session
        would keep the old connection's certificate), then disconnect a live client with that id,
        then create or resume the session as amqtt does."""
        try:
            handler, incoming = await asyncio.wait_for(
                LabProtocolHandler.init_from_connect(reader, writer, self.plugins_manager), self.timeouts.connect_s
            )
        except asyncio.TimeoutError:
            log.info("no CONNECT from %s:%s within %g s; connection closed", remote_address, remote_port,
                     self.timeouts.connect_s)
            await _close_quietly(writer)
            raise AMQTTError(f"no CONNECT from {remote_address}:{remote_port} in time") from None
        except (AMQTTError, MQTTError, NoDataError) as exc:
            await _close_quietly(writer)
            raise AMQTTError(f"no valid CONNECT from {remote_address}:{remote_port}: {exc}") from exc
        if handler.v5 is not None:
            writer = v5.V5Writer(writer, handler.v5)  # refusals below answer in MQTT 5
        violation = limits.connect_violation(
            incoming.client_id or "", bool(incoming.will_flag), incoming.will_qos, incoming.will_topic
        )
        if violation is not None:
            limit = violation.limit
            log.info("refused client %r from %s: %s", incoming.client_id, remote_address, limit.details)
            self._iot_log(iot_logs.CONNECT, iot_logs.FAILURE_LEVEL, incoming, None,
                          reason=limit.log_reason, details=limit.details)
            refusal = ConnackPacket.build(0, limit.connack_code) if limit.connack_code is not None else None
            await _close_quietly(writer, refusal)
            raise AMQTTError(f"refused: {limit.name}")
        try:
            connection = self._admit(incoming, getattr(writer, "principal", None))
            connection.v5 = handler.v5
        except AutoRegistrationStarted as started:
            log.info("client %r from %s: %s; connection closed", incoming.client_id, remote_address, started)
            await _close_quietly(writer)  # no CONNACK, as AWS IoT: "the connection was lost"
            raise AMQTTError(f"dropped: {started}") from None
        except ConnectionRefused as refusal:
            log.info("refused client %r from %s: %s", incoming.client_id, remote_address, refusal)
            await _close_quietly(writer, ConnackPacket.build(0, NOT_AUTHORIZED))
            raise AMQTTError(f"refused: {refusal}") from None

        client_id = connection.client_id
        await self._evict(client_id)
        session = incoming
        stored = self._sessions.get(client_id)
        if incoming.clean_session or (handler.v5 is not None and handler.v5.clean_start):
            await self._delete_session(client_id)
        elif stored is not None:
            session = stored[0]
            for name in ("will_flag", "will_retain", "will_qos", "will_topic", "will_message", "keep_alive",
                         "username", "password", "remote_address", "remote_port", "ssl_object"):
                setattr(session, name, getattr(incoming, name))
        session.parent = 1 if session is not incoming else 0
        # amqtt's reader waits session.keep_alive seconds for each packet: make that AWS's deadline.
        session.keep_alive = limits.keep_alive_deadline_s(incoming.keep_alive or 0, self.timeouts.keep_alive_min_s)
        session.attributes[CONNECTION] = connection
        handler.screen = self._screen_publish
        handler.route = self._route
        handler.on_idle = lambda: self._disconnect(connection, limits.KEEP_ALIVE_TIMEOUT)
        return handler, session

    def _admit(self, session: Session, signed: Any = None) -> Connection:
        """Authenticate the certificate (or take the SigV4 principal ``signed`` the WebSocket
        upgrade proved) and authorise ``iot:Connect``, or raise ConnectionRefused."""
        client_id = session.client_id or ""
        try:
            if signed is not None:
                identity = Identity(signed.principal_id, None, iam=True)
            else:
                identity = identify(
                    self.lab.iot, peer_chain(session.ssl_object), client_id,
                    console_certificate_id=self.console_certificate_id,
                    on_unknown=getattr(self.lab, "on_unknown_certificate", None),
                )
        except AutoRegistrationStarted:
            raise
        except ConnectionRefused:
            self._iot_log(iot_logs.CONNECT, iot_logs.FAILURE_LEVEL, session, None,
                          reason=iot_logs.AUTHENTICATION_FAILURE)
            raise
        except Exception as exc:  # a bug or a broken hook must refuse, not crash the listener
            log.exception("authentication of %r failed", client_id)
            raise ConnectionRefused(f"authentication failed: {exc}") from exc
        authorizer = self._authorizer(identity, client_id, session.remote_address)
        if not authorizer.allowed(CONNECT, client_id):
            self._iot_log(iot_logs.CONNECT, iot_logs.FAILURE_LEVEL, session, identity.certificate_id,
                          reason=iot_logs.AUTHORIZATION_FAILURE)
            raise ConnectionRefused(f"iot:Connect on client/{client_id} is not allowed")
        presence = None
        if not identity.console and events.reportable(client_id):
            version = self._versions[client_id] = self._versions.get(client_id, 0) + 1
            presence = events.Presence(
                client_id, str(uuid.uuid4()), identity.certificate_id, session.remote_address or "", version
            )
        return Connection(client_id, identity, authorizer, presence)

    def _authorizer(self, identity: Identity, client_id: str, source_ip: str | None) -> ConnectionAuthorizer | Unrestricted:
        if identity.console or identity.iam or not self.enforce_policies:
            return UNRESTRICTED  # an IAM connection: the lab's admin credentials ([unconfirmed], see above)
        lab, config = self.lab, self.lab.config

        def resolve() -> Any:
            with lab.gate.reading():  # the registry's attachments, groups and policies, never half changed
                return resolve_grants(
                    lab.iot, self.policy_book, region=config.region, account_id=config.account_id,
                    identity=identity, client_id=client_id, source_ip=source_ip,
                )

        if not self._policy_lag:
            return ConnectionAuthorizer(resolve, lambda: lab.generation)
        return ConnectionAuthorizer(resolve, self._propagated_generation)

    def _propagated_generation(self) -> int:
        """The registry generation live connections decide with: the one seen `policy_propagation` seconds ago."""
        return self._registry_seen.look(time.monotonic(), lambda: self.lab.generation)

    async def _authenticate(self, session: Session, listener: Any) -> bool:
        """Replaces amqtt's plugin fan-out: `_admit` already decided, before the session was used."""
        return CONNECTION in session.attributes

    async def _handle_client_session(self, reader, writer, client_session, handler, server, listener_name) -> None:
        """Wraps amqtt's: track the live connection and publish its lifecycle events."""
        connection: Connection = client_session.attributes[CONNECTION]
        connection.handler = handler
        self._connections[connection.client_id] = connection
        principal_id = connection.identity.certificate_id
        self._iot_log(iot_logs.CONNECT, iot_logs.SUCCESS_LEVEL, client_session, principal_id)
        if connection.presence is not None:
            self._publish_event(connection.presence.connected(_now_ms()))
        try:
            await super()._handle_client_session(reader, writer, client_session, handler, server, listener_name)
        finally:
            if self._connections.get(connection.client_id) is connection:
                del self._connections[connection.client_id]
            connection.closed.set()
            # handler -> session -> Connection -> handler was a cycle: without it, a closed connection
            # (its socket, TLS object and buffers) is freed at once, not at the next full collection.
            connection.handler = None
            level, fields = iot_logs.disconnect_fields(connection.reason)
            self._iot_log(iot_logs.DISCONNECT, level, client_session, principal_id, **fields)
            if connection.presence is not None:
                self._publish_event(connection.presence.disconnected(
                    _now_ms(), client_initiated=connection.client_initiated, reason=connection.reason
                ))

    async def _evict(self, client_id: str) -> None:
        """Disconnect the live connection with this client id and wait until it is gone."""
        old = self._connections.get(client_id)
        if old is None:
            return
        self._disconnect(old, events.DUPLICATE_CLIENTID)
        try:
            await asyncio.wait_for(old.closed.wait(), EVICTION_TIMEOUT_S)
        except asyncio.TimeoutError:
            log.warning("the previous connection of %r did not close in time", client_id)

    def _disconnect(self, connection: Connection, reason: str, code: int | None = None) -> None:
        """Close a connection from the server side, in a task of its own (the caller may be one of
        the tasks the close cancels); amqtt's disconnect path then runs as usual. An MQTT 5 client
        first gets a DISCONNECT with ``code`` (or the one `v5_aws.DISCONNECT_CODES` gives ``reason``)."""
        if connection.closing:
            return
        connection.closing, connection.reason = True, reason
        if code is None:
            code = v5_aws.DISCONNECT_CODES.get(reason, v5_aws.UNSPECIFIED_ERROR)
        if connection.handler is not None:
            task = asyncio.ensure_future(self._close(connection.handler, connection.v5, code))
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)

    @staticmethod
    async def _close(handler: BrokerProtocolHandler, state: v5.V5State | None = None, code: int = 0) -> None:
        if state is not None:
            await state.disconnect(code)
        await handler.handle_connection_closed()
        await handler.stop()  # closes the socket

    async def _recheck_certificates(self) -> None:
        """Disconnect clients whose certificate (or its CA) is no longer ACTIVE."""
        while True:
            await asyncio.sleep(CERT_RECHECK_INTERVAL_S)
            for connection in list(self._connections.values()):
                if connection.identity.console or connection.identity.iam or connection.closing:
                    continue
                problem = registry_problem(self.lab.iot, connection.identity.certificate_id)
                if problem is not None:
                    log.info("disconnecting %r: %s", connection.client_id, problem)
                    self._disconnect(connection, events.AUTH_ERROR)

    async def _handle_disconnect(self, client_session, handler, disconnect_waiter) -> None:
        """Wraps amqtt's: note who ended the connection, and send the will as the client's own
        publish (authorised, routed, offered to the rules) instead of amqtt's unchecked broadcast."""
        connection: Connection | None = client_session.attributes.get(CONNECTION)
        if connection is not None and connection.handler is handler:
            if connection.v5 is not None and connection.v5.will_on_disconnect:  # DISCONNECT 0x04
                connection.reason, connection.client_initiated = events.CLIENT_INITIATED_DISCONNECT, True
            if not connection.closing and isinstance(disconnect_waiter.result(), DisconnectPacket):
                connection.reason, connection.client_initiated = events.CLIENT_INITIATED_DISCONNECT, True
            elif client_session.will_flag:
                client_session.will_flag = False
                topic, retain = client_session.will_topic or "", bool(client_session.will_retain)
                if publish_problem(topic, retain, connection.authorizer) is None:
                    await self._accept(
                        connection.client_id, topic, bytes(client_session.will_message or b""),
                        client_session.will_qos or QOS_0, retain,
                    )
        await super()._handle_disconnect(client_session, handler, disconnect_waiter)

    # -- PUBLISH from clients ------------------------------------------------------------------

    def _screen_publish(self, session: Session, packet: PublishPacket) -> bool:
        """Decide a client's PUBLISH before amqtt acknowledges it; a refusal disconnects the client."""
        connection: Connection | None = session.attributes.get(CONNECTION)
        if connection is None or connection.closing:
            return False
        topic = packet.topic_name or ""
        retain = bool(packet.retain_flag)
        violation = limits.publish_violation(topic, len(packet.data or b""), packet.qos)
        if violation is not None:
            self._refuse(connection, session, iot_logs.PUBLISH_IN, violation,
                         **iot_logs.publish_in_fields(topic, retain, violation.limit.log_reason))
            return False
        problem = publish_problem(topic, retain, connection.authorizer)
        self._iot_log(iot_logs.PUBLISH_IN, iot_logs.SUCCESS_LEVEL if problem is None else iot_logs.FAILURE_LEVEL,
                      session, connection.identity.certificate_id, **iot_logs.publish_in_fields(topic, retain, problem))
        if problem is None:
            return True
        if connection.v5 is not None and problem == events.AUTH_ERROR and not v5_aws.DENIED_PUBLISH_DISCONNECTS:
            log.info("%r: PUBLISH to %r not authorised (MQTT 5: reason 0x87)", connection.client_id, topic)
            packet_id = packet.packet_id
            if packet.qos == 1 and packet_id is not None and connection.handler is not None:
                connection.v5.puback_reasons[packet_id] = v5_aws.NOT_AUTHORIZED
                self._closing.add(task := asyncio.ensure_future(
                    connection.handler._send_packet(PubackPacket.build(packet_id))))
                task.add_done_callback(self._closing.discard)
            return False
        log.info("disconnecting %r: PUBLISH to %r refused (%s)", connection.client_id, topic, problem)
        self._disconnect(connection, problem)
        return False

    def _refuse(self, connection: Connection, session: Session, event_type: str, violation: limits.Violation,
                **fields: Any) -> None:
        """Log the failed ``event_type`` entry for a broken limit and disconnect the client."""
        limit = violation.limit
        log.info("disconnecting %r: %s (%r)", connection.client_id, limit.details, violation.topic)
        fields.setdefault("topicName", violation.topic)
        fields.update(reason=limit.log_reason, details=limit.details)
        self._iot_log(event_type, iot_logs.FAILURE_LEVEL, session, connection.identity.certificate_id, **fields)
        self._disconnect(connection, limit.disconnect_reason or events.CLIENT_ERROR, v5_aws.LIMIT_CODES.get(limit.name))

    async def _handle_message_delivery(self, client_session, handler, wait_deliver) -> bool:
        """Replaces amqtt's, which refuses every ``$`` topic: route a screened message."""
        message = wait_deliver.result()
        connection: Connection = client_session.attributes[CONNECTION]
        if message is None or connection.closing:
            return True
        retain = bool(message.publish_packet is not None and message.publish_packet.retain_flag)
        properties = getattr(message.publish_packet, "v5_properties", None)
        await self._accept(connection.client_id, message.topic, bytes(message.data), message.qos or QOS_0, retain,
                           properties)
        return True

    async def _route(self, session: Session, packet: PublishPacket) -> None:
        """Route a screened PUBLISH from ``session``'s client (`LabProtocolHandler.handle_publish`)."""
        connection: Connection | None = session.attributes.get(CONNECTION)
        if connection is None or connection.closing or packet.topic_name is None:
            return
        await self._accept(connection.client_id, packet.topic_name, bytes(packet.data or b""), packet.qos or QOS_0,
                           bool(packet.retain_flag), getattr(packet, "v5_properties", None))

    async def _accept(self, client_id: str, topic: str, data: bytes, qos: int, retain: bool,
                      properties: dict | None = None) -> None:
        """Deliver an authorised client message and hand reserved topics to their services.
        ``properties``: an MQTT 5 publisher's, forwarded to MQTT 5 subscribers."""
        reserved = reserved_topic(topic)
        if reserved is not None and reserved.kind == BASIC_INGEST:
            self.call_hook("on_basic_ingest", reserved.name, topic, data, client_id)
            return
        await self._broadcast_message(None, topic, data, force_qos=qos, properties=properties, publisher=client_id)
        if retain:
            await self.retain_message(None, topic, data, qos)
            self._retained_properties[topic] = (properties or {}, time.monotonic())
        self.call_hook("on_message", topic, data, client_id)
        if reserved is None:
            return
        if reserved.kind == SHADOW:
            request = parse_shadow_topic(topic)
            if request is not None:
                try:
                    answer_request(self.lab, request, data)
                except Exception:
                    log.exception("shadow request on %r failed", topic)
        elif reserved.kind == JOBS:
            self.call_hook("on_jobs_request", reserved.name, topic, data, client_id)

    # -- SUBSCRIBE / UNSUBSCRIBE ---------------------------------------------------------------

    async def _topic_filtering(self, session: Session, topic: str, action: Action) -> bool:
        """Replaces amqtt's plugin fan-out (used by amqtt's add_subscription for SUBSCRIBE)."""
        connection: Connection | None = session.attributes.get(CONNECTION)
        return connection is not None and connection.authorizer.allowed(_AMQTT_ACTIONS[action], topic)

    async def _handle_subscription(self, client_session, handler, subscribe_waiter) -> None:
        """Replaces amqtt's: a SUBSCRIBE over AWS's limits disconnects the client (no SUBACK);
        otherwise the same SUBACK (0x80 for a denied filter), plus the AWS lifecycle event listing
        the filters granted."""
        request = subscribe_waiter.result()
        connection: Connection = client_session.attributes[CONNECTION]
        if connection.closing:
            return
        violation = limits.subscribe_violation(request.topics)
        if violation is not None:
            self._refuse(connection, client_session, iot_logs.SUBSCRIBE, violation)
            return
        shared = set()
        if connection.v5 is not None:  # MQTT 5: keep each filter's options; $share/ is not supported here
            options = dict(connection.v5.subscribe_options.pop(request.packet_id, []))
            for index, (topic_filter, _qos) in enumerate(request.topics):
                connection.v5.options[topic_filter] = options.get(topic_filter, 0)
                if topic_filter.startswith("$share/"):
                    shared.add(index)
            if shared:
                connection.v5.suback_reasons[request.packet_id] = {
                    i: v5_aws.SHARED_SUBSCRIPTIONS_NOT_SUPPORTED for i in shared}
        codes = [0x80 if index in shared else await self.add_subscription(subscription, client_session)
                 for index, subscription in enumerate(request.topics)]
        await handler.mqtt_acknowledge_subscription(request.packet_id, codes)
        granted = [sub for sub, code in zip(request.topics, codes) if code != 0x80]
        for (topic_filter, _qos), code in zip(request.topics, codes):
            refused = {"reason": iot_logs.AUTHORIZATION_FAILURE} if code == 0x80 else {}
            self._iot_log(iot_logs.SUBSCRIBE, iot_logs.FAILURE_LEVEL if refused else iot_logs.SUCCESS_LEVEL,
                          client_session, connection.identity.certificate_id, topicName=topic_filter, **refused)
        if granted and connection.presence is not None:
            self._publish_event(connection.presence.subscribed(_now_ms(), [f for f, _qos in granted]))
        for subscription in granted:
            await self._publish_retained_messages_for_subscription(subscription, client_session)

    async def _handle_unsubscription(self, client_session, handler, unsubscribe_waiter) -> None:
        """Wraps amqtt's to publish the AWS lifecycle event (and, for MQTT 5, a reason per filter)."""
        state = getattr(handler, "v5", None)
        if state is not None:
            request = unsubscribe_waiter.result()
            state.unsuback_reasons[request.packet_id] = [
                v5_aws.SUCCESS if any(s.client_id == client_session.client_id
                                      for s, _ in self._subscriptions.get(topic_filter, ()))
                else v5_aws.NO_SUBSCRIPTION_EXISTED for topic_filter in request.topics]
        await super()._handle_unsubscription(client_session, handler, unsubscribe_waiter)
        connection: Connection = client_session.attributes[CONNECTION]
        if connection.presence is not None:
            topics = list(unsubscribe_waiter.result().topics)
            self._publish_event(connection.presence.unsubscribed(_now_ms(), topics))

    async def _publish_retained_messages_for_subscription(self, subscription, session) -> None:
        """Replaces amqtt's: only for the session's own filter (amqtt, on reconnect, sends the
        retained messages of every client's filters), only what ``iot:Receive`` allows, and
        without waiting (amqtt's caller iterates the live subscriptions dict meanwhile)."""
        topic_filter, qos = subscription
        if not any(s.client_id == session.client_id for s, _ in self._subscriptions.get(topic_filter, ())):
            return
        connection: Connection | None = session.attributes.get(CONNECTION)
        handler = self._get_handler(session)
        if connection is None or handler is None:
            return
        if connection.v5 is not None and (connection.v5.options.get(topic_filter, 0) >> 4) & 0x03 == 2:
            return  # MQTT 5 Retain Handling 2: no retained messages at subscribe
        for topic, retained in list(self._retained_messages.items()):
            if self._matches(topic, topic_filter) and connection.authorizer.allowed(RECEIVE, topic):
                stored, at = self._retained_properties.get(topic, ({}, None))
                properties = v5.remaining(stored, at, time.monotonic())
                if properties is None:  # expired: AWS no longer holds it
                    self._retained_messages.pop(topic, None)
                    self._retained_properties.pop(topic, None)
                    continue
                token = v5.OUTGOING.set(properties if connection.v5 is not None else None)
                publish = handler.mqtt_publish(topic, retained.data, min(qos, retained.qos or 0), retain=True)
                self._tasks_queue.append(asyncio.ensure_future(publish))  # reaped by amqtt's broadcast loop
                v5.OUTGOING.reset(token)

    # -- delivery (replaces amqtt's _run_broadcast) ----------------------------------------------

    async def _broadcast_message(self, session, topic, data, force_qos=None, properties=None, publisher=None) -> None:
        """amqtt's, plus the MQTT 5 properties to forward and who published (for No Local)."""
        broadcast = {"session": session, "topic": topic, "data": data, "properties": properties,
                     "publisher": publisher, "received": time.monotonic()}
        if force_qos is not None:
            broadcast["qos"] = force_qos
        await self._broadcast_queue.put(broadcast)

    async def _run_broadcast(self, running_tasks) -> None:
        """Replaces amqtt's: deliver at the lower of the message's and the subscription's QoS
        (amqtt uses the subscription's), check ``iot:Receive`` inline, and skip amqtt's per-message
        debug formatting and plugin fan-out."""
        broadcast = await self._broadcast_queue.get()
        topic, data = broadcast["topic"], broadcast["data"]
        message_qos = broadcast.get("qos") or QOS_0
        properties = v5.remaining(broadcast.get("properties"), broadcast.get("received"), time.monotonic())
        if properties is None:
            return  # its message expiry interval has passed
        plain: bytes | None = None  # the QoS 0 PUBLISH, encoded once for every subscriber that takes it
        for topic_filter, subscriptions in list(self._subscriptions.items()):
            if not self._matches(topic, topic_filter):
                continue
            for session, subscription_qos in list(subscriptions):
                connection: Connection | None = session.attributes.get(CONNECTION)
                if connection is None or not connection.authorizer.allowed(RECEIVE, topic):
                    continue
                state = connection.v5
                if state is not None and state.options.get(topic_filter, 0) & v5.NO_LOCAL \
                        and broadcast.get("publisher") == connection.client_id:
                    continue
                qos = min(message_qos, subscription_qos)
                if session.transitions.state != "connected":
                    if not session.clean_session and qos > QOS_0:  # kept for a persistent session
                        await self._retain_broadcast_message(broadcast, qos, session)
                    continue
                handler = self._get_handler(session)
                if handler is not None:
                    token = v5.OUTGOING.set(properties if state is not None else None)  # copied into the task
                    if qos == QOS_0 and _write_now(handler):
                        if plain is None:
                            plain = PublishPacket.build(topic, data, None, False, QOS_0, False).to_bytes()
                        handler.writer.write(plain)  # whole packet, synchronously: no task, no interleaving
                    else:
                        running_tasks.append(asyncio.ensure_future(handler.mqtt_publish(topic, data, qos, retain=False)))
                    v5.OUTGOING.reset(token)
                    self._iot_log(iot_logs.PUBLISH_OUT, iot_logs.SUCCESS_LEVEL, session,
                                  connection.identity.certificate_id, topicName=topic)

    # -- helpers ----------------------------------------------------------------------------------

    def _create_ssl_context(self, listener: Any) -> ssl.SSLContext:  # type: ignore[override]
        """Replaces amqtt's (CERT_OPTIONAL, system CAs): the lab's mutual-TLS context, and for the
        WebSocket listener the server certificate alone (the signature authenticates)."""
        return self.ws_tls if listener.type == ListenerType.WS else self.tls

    async def ws_connected(self, websocket: Any, listener_name: str) -> None:
        """Replaces amqtt's: the writer carries who signed the upgrade (`websockets_listener`)."""
        principal = self.upgrade_check.principal_of(websocket)
        writer = websockets_listener.SignedWriter(websocket, principal)
        await self._client_connected(listener_name, WebSocketsReader(websocket), writer)

    async def _create_server_instance(self, listener_name, listener_type, address, port, ssl_context):
        """Replaces amqtt's for the TLS listener: the same server, but a socket that does not finish
        the TLS handshake (or, closing, does not answer the server's close_notify) within
        ``timeouts.tls_handshake_s`` is closed (asyncio's defaults are 60 and 30 s)."""
        deadlines: dict[str, float] = {"ssl_handshake_timeout": self.timeouts.tls_handshake_s}
        if sys.version_info >= (3, 11):
            deadlines["ssl_shutdown_timeout"] = self.timeouts.tls_handshake_s
        if listener_type == ListenerType.WS and ssl_context is not None:
            # amqtt's WebSocket server, plus the SigV4 check on the upgrade and the TLS deadlines;
            # no WebSocket pings (MQTT's keep-alive governs, as on the TCP listener).
            return await websockets.asyncio.server.serve(
                functools.partial(self.ws_connected, listener_name=listener_name), address, port,
                ssl=ssl_context, subprotocols=[websockets.Subprotocol(websockets_listener.SUBPROTOCOL)],
                process_request=self.upgrade_check, ping_interval=None, open_timeout=self.timeouts.tls_handshake_s,
                max_size=websockets_listener.MAX_FRAME_BYTES, **deadlines,
            )
        if listener_type != ListenerType.TCP or ssl_context is None:
            return await super()._create_server_instance(listener_name, listener_type, address, port, ssl_context)
        return await asyncio.start_server(
            functools.partial(self.stream_connected, listener_name=listener_name), address, port,
            reuse_address=True, ssl=ssl_context, **deadlines,
        )

    def _publish_event(self, event: events.Event) -> None:
        topic, payload = event
        self.lab.publish(topic, payload, EVENT_QOS)

    def _iot_log(self, event_type: str, level: str, session: Session, principal_id: str | None, **fields: Any) -> None:
        """Hand an AWS IoT log entry about ``session``'s client to ``lab.iot_log``, if the lab logs;
        the lab drops it quickly when the client's level does not want it."""
        iot_log = getattr(self.lab, "iot_log", None)
        if iot_log is None:
            return
        try:
            iot_log(event_type, level, protocol=iot_logs.MQTT, clientId=session.client_id, principalId=principal_id,
                    sourceIp=session.remote_address, sourcePort=session.remote_port, **fields)
        except Exception:
            log.exception("lab.iot_log failed")

    def call_hook(self, name: str, *args: Any) -> None:
        """Call ``lab.<name>(*args)`` if the lab defines it; its exceptions are logged, not raised."""
        hook = getattr(self.lab, name, None)
        if hook is None:
            return
        try:
            hook(*args)
        except Exception:
            log.exception("lab.%s failed", name)


async def _close_quietly(writer: Any, last_packet: ConnackPacket | None = None, raw: bytes = b"") -> None:
    """Send a last packet (or ``raw`` bytes) if any and close; the client may already have gone."""
    try:
        if last_packet is not None:
            await last_packet.to_stream(writer)
        if raw:
            writer.write(raw)
            await writer.drain()
        await writer.close()
    except (OSError, asyncio.CancelledError):
        pass


FAST_WRITE_LIMIT = 256 * 1024  # a subscriber with more unsent bytes than this gets its QoS 0 messages the slow way


def _write_now(handler: BrokerProtocolHandler) -> bool:
    """Can a QoS 0 PUBLISH be written to this subscriber's socket right away? Only on a TCP connection
    whose send buffer is not backed up (the slow way waits for it to drain)."""
    writer = handler.writer
    raw = getattr(writer, "raw", writer)  # an MQTT 5 connection's V5Writer wraps the socket's writer
    transport = getattr(getattr(raw, "_writer", None), "transport", None)
    if transport is None or transport.is_closing():
        return False
    return transport.get_write_buffer_size() <= FAST_WRITE_LIMIT


def _now_ms() -> int:
    return int(time.time() * 1000)
