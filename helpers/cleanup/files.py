"""Local files of the workshop's certificates: certificate files and the private keys that match them."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from .. import ledger as L
from ..certs import certificate_id
from .items import LOCAL_FILE, Item


def _certificates_in(path: Path) -> list[x509.Certificate]:
    try:
        return x509.load_pem_x509_certificates(path.read_bytes())
    except (ValueError, OSError):
        return []


def _public_der(public_key: Any) -> bytes:
    return public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def local_files(work_dir: Path, certificate_ids: set[str],
                keep: Iterable[Path] = ()) -> list[tuple[Path, str, tuple[str, ...]]]:
    """``(path, what, certificate ids)`` for each file under ``work_dir`` holding some of these
    certificates, and each private key belonging to one of them. Files in ``keep`` (the ledger, a
    root CA) never count."""
    keep = {Path(p).resolve() for p in keep}
    files = [p for p in sorted(Path(work_dir).rglob("*")) if p.is_file() and p.resolve() not in keep]
    found, public_keys = [], {}
    for path in files:
        if path.suffix.lower() not in (".crt", ".pem", ".cert"):
            continue
        ids = {certificate_id(c.public_bytes(serialization.Encoding.PEM)): c for c in _certificates_in(path)}
        ours = sorted(set(ids) & certificate_ids)
        if ours:
            found.append((path, "certificate", tuple(ours)))
            public_keys.update({_public_der(ids[i].public_key()): i for i in ours})
    for path in files:
        if path.suffix.lower() != ".key":
            continue
        try:
            key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        except (ValueError, TypeError, OSError):
            continue
        if _public_der(key.public_key()) in public_keys:
            found.append((path, "private key", (public_keys[_public_der(key.public_key())],)))
    return found


def file_items(ws: Any, certificate_ids: set[str]) -> list[Item]:
    """One item per local file of these certificates (the workshop's), ledger and root CA excepted."""
    keep = [L.ledger_path(ws), Path(ws.root_ca)]
    return [Item(LOCAL_FILE, str(path.relative_to(ws.work_dir)), source="matches a certificate of the workshop",
                 detail={"path": str(path), "what": what, "certificates": list(certs)}, ours=True,
                 why="a file of one of the workshop's certificates")
            for path, what, certs in local_files(Path(ws.work_dir), certificate_ids, keep)]


__all__ = ["file_items", "local_files"]
