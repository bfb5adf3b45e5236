"""Stamping a stored image: XMP with the IPTC digital source type, then a C2PA manifest.

Signing never blocks a job: when it fails the image is stored with its XMP but unsigned,
with a note on the row, a log line and a metric.
"""

import io
import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import c2pa
from django.conf import settings
from prometheus_client import Counter

from generation.provenance import signer as signing
from generation.provenance.xmp import IPTC_TRAINED, png_insert_xmp, xmp_packet

logger = logging.getLogger("generation.provenance")

DIGITAL_SOURCE_TYPE = IPTC_TRAINED
GENERATOR = "Qwen Image Studio"
PARAMETERS_LABEL = "org.qwen-image-studio.generation"

SIGNING_FAILURES = Counter(
    "qis_provenance_signing_failures",
    "Images stored unsigned because C2PA signing failed.",
)
SIGNED = Counter("qis_provenance_signed", "Images stored with a signed C2PA manifest.")

_local = threading.local()


@dataclass(frozen=True)
class Source:
    """An image the new one was made from (an edit's input): its bytes become an ingredient."""

    data: bytes
    title: str
    format: str = "image/png"


@dataclass
class Stamp:
    png: bytes
    state: str  # "signed", "unsigned" (signing failed) or "off" (C2PA turned off)
    note: str = ""
    seconds: dict[str, float] = field(default_factory=dict)


def _context() -> c2pa.Context:
    # Offline: no remote manifests, no OCSP; no embedded thumbnail (the file is the image).
    if getattr(_local, "context", None) is None:
        _local.context = c2pa.Context.from_dict(
            {
                "builder": {"thumbnail": {"enabled": False}},
                "verify": {"remote_manifest_fetch": False, "ocsp_fetch": False},
            }
        )
    return _local.context


def manifest_definition(
    *, title: str, model: str, backend: str, generation: dict, edited: bool, creator: str | None
) -> dict:
    agent = {"name": f"{model} ({backend} backend)"}
    if edited:
        actions = [
            {"action": "c2pa.opened", "parameters": {"ingredientIds": ["source-0"]}},
            {
                "action": "c2pa.edited",
                "digitalSourceType": DIGITAL_SOURCE_TYPE,
                "softwareAgent": agent,
            },
        ]
    else:
        actions = [
            {
                "action": "c2pa.created",
                "digitalSourceType": DIGITAL_SOURCE_TYPE,
                "softwareAgent": agent,
            }
        ]
    assertions = [
        {"label": "c2pa.actions", "data": {"actions": actions}},
        {"label": PARAMETERS_LABEL, "data": generation},
    ]
    if creator:
        assertions.append(
            {
                "label": "stds.schema-org.CreativeWork",
                "data": {
                    "@context": "https://schema.org",
                    "@type": "CreativeWork",
                    "author": [{"@type": "Person", "name": creator}],
                },
            }
        )
    return {
        "claim_generator_info": [{"name": GENERATOR, "version": settings.STUDIO_VERSION}],
        "title": title,
        "format": "image/png",
        "assertions": assertions,
    }


def _sign(png: bytes, definition: dict, sources: Sequence[Source]) -> bytes:
    with c2pa.Builder(definition, _context()) as builder:
        for index, source in enumerate(sources):
            builder.add_ingredient(
                {
                    "title": source.title,
                    "relationship": "parentOf" if index == 0 else "componentOf",
                    "label": f"source-{index}",
                },
                source.format,
                io.BytesIO(source.data),
            )
        output = io.BytesIO()
        builder.sign(signing.native_signer(), "image/png", io.BytesIO(png), output)
        return output.getvalue()


def provenance_apply(
    *,
    png: bytes,
    title: str,
    model: str,
    backend: str,
    generation: dict,
    sources: Sequence[Source] = (),
    creator: str | None = None,
) -> Stamp:
    """The PNG with XMP (IPTC trainedAlgorithmicMedia) and, unless turned off, a signed C2PA
    manifest: created (or edited, with `sources` as ingredients), the model and backend, and
    `generation` (our parameters; the caller leaves personal data out unless the operator
    turned PROVENANCE_INCLUDE_CREATOR on, which passes `creator`)."""
    seconds: dict[str, float] = {}
    clock = time.perf_counter()
    packet = xmp_packet(
        digital_source_type=DIGITAL_SOURCE_TYPE,
        creator_tool=f"{GENERATOR} {settings.STUDIO_VERSION}",
        extra={"Model": model, "Backend": backend},
    )
    png = png_insert_xmp(png, packet)
    seconds["xmp"] = time.perf_counter() - clock
    if not settings.PROVENANCE_C2PA:
        return Stamp(png=png, state="off", seconds=seconds)
    clock = time.perf_counter()
    definition = manifest_definition(
        title=title,
        model=model,
        backend=backend,
        generation=generation,
        edited=bool(sources),
        creator=creator,
    )
    try:
        signed = _sign(png, definition, sources)
    except Exception as error:  # never block a job on signing: store it unsigned, say why
        SIGNING_FAILURES.inc()
        note = f"C2PA signing failed ({type(error).__name__}: {str(error)[:300]})"
        logger.warning("provenance: %s; stored unsigned: %s", title, note)
        return Stamp(png=png, state="unsigned", note=note, seconds=seconds)
    SIGNED.inc()
    seconds["sign"] = time.perf_counter() - clock
    return Stamp(png=signed, state="signed", seconds=seconds)
