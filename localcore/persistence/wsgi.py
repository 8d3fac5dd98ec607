"""Every HTTP request passes the lab's gate: reads together, changes one at a time, and a change
tells the saver.

The lab answers AWS APIs on werkzeug threads. This WSGI wrapper makes each request pass `StateGate`
(so no read iterates moto's dicts while a change alters them, and a snapshot never sees a request
half done) and, when the request is not a read, bumps the lab's revision once it is answered.
Telling reads from writes needs no service model: reads are GET/HEAD requests or operations named
Describe*/Get*/List*/..., as AWS names them. A change taken for a read would pass with the reads
and be saved with the next change; a read taken for a change only waits its turn.
"""

from __future__ import annotations

import io
from typing import Any, Callable, Iterable
from urllib.parse import parse_qs

READ_METHODS = ("GET", "HEAD", "OPTIONS")
MAX_FORM_PEEK_BYTES = 1 << 20  # larger form bodies are taken for changes without being read here
READ_PREFIXES = ("Describe", "Get", "List", "Search", "Query", "Scan", "BatchGet", "Filter", "Head",
                 "Lookup", "Test", "Validate", "Estimate", "Preview")


def is_read(operation: str) -> bool:
    return operation.startswith(READ_PREFIXES)


def changes_state(method: str, target: str | None, content_type: str, body: bytes | None, query: str) -> bool:
    """False for requests that only read (by HTTP method, X-Amz-Target, or query ``Action``).
    ``body`` is the form body of a query-protocol request, or None when it was not read."""
    if method.upper() in READ_METHODS:
        return False
    if target:
        return not is_read(target.rpartition(".")[2])
    actions = parse_qs(query).get("Action")
    if not actions and body is not None and content_type.startswith("application/x-www-form-urlencoded"):
        actions = parse_qs(body.decode("utf-8", errors="replace")).get("Action")
    if actions:
        return not is_read(actions[0])
    return True


def gated(app: Callable, lab: Any) -> Callable:
    """``app`` behind the lab's gate."""

    def application(environ: dict, start_response: Callable) -> Iterable[bytes]:
        body = _form_body(environ)
        writes = changes_state(
            environ.get("REQUEST_METHOD", "GET"), environ.get("HTTP_X_AMZ_TARGET"),
            environ.get("CONTENT_TYPE", ""), body, environ.get("QUERY_STRING", ""),
        )
        with lab.gate.writing() if writes else lab.gate.reading():
            try:
                chunks = app(environ, start_response)
                try:
                    answer = b"".join(chunks)  # the whole answer is made inside the gate
                finally:
                    close = getattr(chunks, "close", None)
                    if close is not None:
                        close()
            finally:
                if writes:
                    lab.changed()
        return [answer]

    return application


def _form_body(environ: dict) -> bytes | None:
    """The body of a small form-encoded (query-protocol) request, which names its operation; it is
    put back for the application. Other bodies are left to the application, which limits their size."""
    if not environ.get("CONTENT_TYPE", "").startswith("application/x-www-form-urlencoded"):
        return None
    try:
        length = int(environ.get("CONTENT_LENGTH") or -1)
    except ValueError:
        return None
    if not 0 <= length <= MAX_FORM_PEEK_BYTES or environ.get("wsgi.input") is None:
        return None
    body = environ["wsgi.input"].read(length)
    environ["wsgi.input"] = io.BytesIO(body)
    return body
