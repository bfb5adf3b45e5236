"""What a verifier reads from a stored file: the C2PA manifest checked by the same library.

The verdict is one of: `valid` (signed, intact, by a signer this install trusts), `untrusted`
(signed and intact, but the signer is not on a trust list: the development certificate, or
an operator certificate whose root is not configured), `tampered` (the file or manifest no
longer matches its signature), `unsigned` (no manifest: signing failed or was turned off),
`unreadable` (the file is missing or not an image).
"""

import io
import json
import threading
from dataclasses import dataclass, field
from pathlib import Path

import c2pa
from django.conf import settings
from django.core.files.storage import default_storage

from generation.provenance.xmp import png_read_xmp

TRUST_CODES = {"signingCredential.untrusted", "timeStamp.untrusted"}
# Informational codes that say nothing about the file (offline, no timestamp server).
QUIET_CODES = {"signingCredential.ocsp.skipped"}

_local = threading.local()


@dataclass
class Verdict:
    state: str
    summary: str
    signer: str = ""
    issuer: str = ""
    signed_at: str = ""
    claim_generator: str = ""
    actions: list[dict] = field(default_factory=list)
    digital_source_type: str = ""
    ingredients: list[dict] = field(default_factory=list)
    problems: list[dict] = field(default_factory=list)
    xmp_digital_source_type: str = ""

    def as_dict(self) -> dict:
        return {
            "state": self.state,
            "summary": self.summary,
            "signer": self.signer,
            "issuer": self.issuer,
            "signed_at": self.signed_at or None,
            "claim_generator": self.claim_generator,
            "digital_source_type": self.digital_source_type or None,
            "actions": self.actions,
            "ingredients": self.ingredients,
            "problems": self.problems,
            "xmp_digital_source_type": self.xmp_digital_source_type or None,
        }


SUMMARIES = {
    "valid": "Signed by a trusted signer; the file is unchanged since it was signed.",
    "untrusted": (
        "The file is unchanged since it was signed, but the signer is not on a trust list "
        "(this install's own development certificate, or a certificate whose root the "
        "verifier has not been given)."
    ),
    "tampered": "The file no longer matches its signed manifest: it was changed after signing.",
    "unsigned": "No C2PA manifest in the file.",
    "unreadable": "The stored file could not be read.",
}


def _context() -> c2pa.Context:
    if getattr(_local, "context", None) is None:
        trust = {}
        if settings.PROVENANCE_TRUST_ANCHORS_FILE:
            trust["user_anchors"] = Path(settings.PROVENANCE_TRUST_ANCHORS_FILE).read_text()
        _local.context = c2pa.Context.from_dict(
            {
                "verify": {"remote_manifest_fetch": False, "ocsp_fetch": False},
                **({"trust": trust} if trust else {}),
            }
        )
    return _local.context


def context_reset() -> None:
    _local.context = None


def provenance_read(data: bytes, *, format: str = "image/png") -> Verdict:
    """Verify the bytes of a stored image the way any C2PA verifier would."""
    xmp_type = _xmp_source_type(data)
    try:
        reader = c2pa.Reader.try_create(format, io.BytesIO(data), context=_context())
    except c2pa.C2paError as error:
        verdict = Verdict(state="tampered", summary=SUMMARIES["tampered"])
        verdict.problems = [{"code": "manifest.unreadable", "explanation": str(error)[:300]}]
        verdict.xmp_digital_source_type = xmp_type
        return verdict
    if reader is None:
        return Verdict(
            state="unsigned", summary=SUMMARIES["unsigned"], xmp_digital_source_type=xmp_type
        )
    with reader:
        store = json.loads(reader.json())
        state = reader.get_validation_state() or ""
        results = reader.get_validation_results() or {}
    manifest = store.get("manifests", {}).get(store.get("active_manifest"), {})
    failures = (results.get("activeManifest") or {}).get("failure", [])
    failures += [
        failure
        for ingredient in results.get("ingredientDeltas", []) or []
        for failure in (ingredient.get("validationDeltas") or {}).get("failure", [])
    ]
    problems = [
        {"code": f.get("code", ""), "explanation": f.get("explanation", "")} for f in failures
    ]
    hard = [p for p in problems if p["code"] not in TRUST_CODES | QUIET_CODES]
    if state == "Invalid" or hard:
        verdict_state = "tampered"
    elif any(p["code"] in TRUST_CODES for p in problems):
        verdict_state = "untrusted"
    else:
        verdict_state = "valid"
    actions = _actions(manifest)
    signature = manifest.get("signature_info") or {}
    generator = (manifest.get("claim_generator_info") or [{}])[0]
    return Verdict(
        state=verdict_state,
        summary=SUMMARIES[verdict_state],
        signer=signature.get("common_name", ""),
        issuer=signature.get("issuer", ""),
        signed_at=signature.get("time", ""),
        claim_generator=" ".join(
            str(generator.get(key, "")) for key in ("name", "version") if generator.get(key)
        ),
        actions=[
            {
                "action": action.get("action", ""),
                "software_agent": (action.get("softwareAgent") or {}).get("name", "")
                if isinstance(action.get("softwareAgent"), dict)
                else str(action.get("softwareAgent") or ""),
                "digital_source_type": action.get("digitalSourceType", ""),
            }
            for action in actions
        ],
        digital_source_type=next(
            (a.get("digitalSourceType") for a in actions if a.get("digitalSourceType")), ""
        ),
        ingredients=[
            {"title": i.get("title", ""), "relationship": i.get("relationship", "")}
            for i in manifest.get("ingredients", [])
        ],
        problems=problems,
        xmp_digital_source_type=xmp_type,
    )


def _actions(manifest: dict) -> list[dict]:
    for assertion in manifest.get("assertions", []):
        if assertion.get("label", "").startswith("c2pa.actions"):
            return list((assertion.get("data") or {}).get("actions", []))
    return []


def _xmp_source_type(data: bytes) -> str:
    try:
        packet = png_read_xmp(data) or ""
    except (ValueError, UnicodeDecodeError, IndexError):
        return ""
    start = packet.find("<Iptc4xmpExt:DigitalSourceType>")
    end = packet.find("</Iptc4xmpExt:DigitalSourceType>")
    if start < 0 or end < 0:
        return ""
    return packet[start + len("<Iptc4xmpExt:DigitalSourceType>") : end]


def image_provenance(*, image) -> Verdict:
    """The verdict on an image's stored PNG, read back from storage now (so a file changed on
    disk or in the bucket reads as tampered)."""
    try:
        with default_storage.open(image.file.name, "rb") as handle:
            data = handle.read()
    except (FileNotFoundError, OSError):
        return Verdict(state="unreadable", summary=SUMMARIES["unreadable"])
    verdict = provenance_read(data)
    if verdict.state == "unsigned" and image.provenance_note:
        verdict.summary = f"{verdict.summary} {image.provenance_note}."
    return verdict
