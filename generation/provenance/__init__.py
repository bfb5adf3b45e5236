"""Provenance: every stored image says it was made by AI (IPTC XMP + a signed C2PA manifest),
and a verifier's reading of a stored file. Import from here.

`provenance_apply` is the runner's store step (after generation.imaging.process);
`provenance_read` is what the image page and GET /v1/images/{id}/provenance show.
"""

from generation.provenance.manifest import (  # noqa: F401
    DIGITAL_SOURCE_TYPE,
    Source,
    Stamp,
    provenance_apply,
)
from generation.provenance.signer import (  # noqa: F401
    SignerUnavailable,
    signer_describe,
    signer_reset,
)
from generation.provenance.verify import (  # noqa: F401
    Verdict,
    context_reset,
    image_provenance,
    provenance_read,
)
from generation.provenance.xmp import png_insert_xmp, png_read_xmp, xmp_packet  # noqa: F401
