# Another correct answer, written as a trainee might: an EC key, the certificate built with the
# `cryptography` package directly (Organization too), the chain written by hand, a retry loop
# instead of wait_for_provisioning, and the thing found with a list_things attribute query.
import time
from datetime import datetime, timedelta, timezone

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

french_key = new_key("ec")
now = datetime.now(timezone.utc)
french_cert = (
    x509.CertificateBuilder()
    .subject_name(x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "FR"),
                             x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Usine de Lyon"),
                             x509.NameAttribute(NameOID.COMMON_NAME, SECOND)]))
    .issuer_name(ca.certificate.subject)
    .public_key(french_key.public_key())
    .serial_number(x509.random_serial_number())
    .not_valid_before(now - timedelta(minutes=1))
    .not_valid_after(now + timedelta(days=30))
    .sign(ca.key, hashes.SHA256())
)
save_device(ws, SECOND, french_cert.public_bytes(Encoding.PEM).decode() + ca.pem, french_key)

french = Device.from_workshop(ws, SECOND)
deadline = time.monotonic() + 60
attempts = 0
while True:
    attempts += 1
    try:
        french.connect()
        break
    except ConnectionRefused as refused:
        if time.monotonic() > deadline:
            raise
        print(f"attempt {attempts}: {refused.reason}")
        time.sleep(0.5)
french.publish(params["topic"], {"bonjour": SECOND})
french.disconnect()

found = ws.iot.list_things(attributeName="Country", attributeValue="FR")["things"]
print([t["thingName"] for t in found if t["thingName"] == SECOND],
      [g["groupName"] for g in ws.iot.list_thing_groups_for_thing(thingName=SECOND)["thingGroups"]])
