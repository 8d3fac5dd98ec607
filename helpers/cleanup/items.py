"""One row of the inventory: a resource, setting or local file the clean-up looked at."""

from __future__ import annotations

from dataclasses import dataclass, field

from .. import ledger as L

LOCAL_FILE = "local file"
COLUMNS = ["kind", "name", "id", "chapter", "created", "exists", "ours", "why", "status", "dependencies", "source",
           "arn", "detail", "deps", "identity"]


@dataclass
class Item:
    """A resource as the ledger knows it and as AWS has it now.

    ``recorded`` are the ledger's entries for it (its identities); ``identity`` is what AWS answers now;
    ``ours`` says whether the one there now is the workshop's, and ``why``.
    """

    kind: str
    name: str
    arn: str = ""
    chapter: str = ""
    created: str = ""
    source: str = "ledger"
    detail: dict = field(default_factory=dict)
    recorded: list[L.Entry] = field(default_factory=list)
    identity: dict = field(default_factory=dict)
    exists: bool = False
    ours: bool = False
    why: str = ""
    status: str = ""
    deps: dict = field(default_factory=dict)

    @property
    def key(self) -> tuple[str, str]:
        return self.kind, self.name


class Gone(Exception):
    """A probe found the resource gone (or the setting as it was) in a way that is not an AWS error."""


__all__ = ["COLUMNS", "Gone", "Item", "LOCAL_FILE", "tie"]


def tie(item: Item, certificate_arn: str, source: str) -> None:
    """Mark ``item`` as made with ``certificate_arn`` (a thing holding the workshop's certificate is the
    workshop's); ``source`` says who tied them."""
    item.detail.setdefault("tied_certificates", [])
    if certificate_arn and certificate_arn not in item.detail["tied_certificates"]:
        item.detail["tied_certificates"].append(certificate_arn)
    item.detail.setdefault("tied_by", source)
