"""IPTC metadata in XMP, written into a PNG as an iTXt chunk without re-encoding the pixels.

Working on chunks (not through Pillow) keeps whatever PNG the store step was given, provider
bytes or our re-encode, byte for byte apart from the new chunk.
"""

import struct
import zlib
from xml.sax.saxutils import escape

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
XMP_KEYWORD = b"XML:com.adobe.xmp"
IPTC_TRAINED = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"


def xmp_packet(*, digital_source_type: str, creator_tool: str, extra: dict[str, str]) -> str:
    """An XMP packet with Iptc4xmpExt:DigitalSourceType, the tool, and a few plain fields."""
    fields = "".join(
        f"<qis:{name}>{escape(value)}</qis:{name}>" for name, value in sorted(extra.items())
    )
    return (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/">'
        '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        '<rdf:Description rdf:about=""'
        ' xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/"'
        ' xmlns:xmp="http://ns.adobe.com/xap/1.0/"'
        ' xmlns:qis="https://github.com/qwen-image-studio/ns/1.0/">'
        f"<Iptc4xmpExt:DigitalSourceType>{escape(digital_source_type)}"
        "</Iptc4xmpExt:DigitalSourceType>"
        f"<xmp:CreatorTool>{escape(creator_tool)}</xmp:CreatorTool>"
        f"{fields}"
        "</rdf:Description></rdf:RDF></x:xmpmeta>"
        '<?xpacket end="w"?>'
    )


def _chunk(kind: bytes, data: bytes) -> bytes:
    return (
        struct.pack(">I", len(data))
        + kind
        + data
        + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    )


def png_chunks(png: bytes):
    """(offset, type, data) of each chunk; ValueError on anything that is not a sane PNG."""
    if not png.startswith(PNG_SIGNATURE):
        raise ValueError("not a PNG")
    position = len(PNG_SIGNATURE)
    while position < len(png):
        if position + 8 > len(png):
            raise ValueError("truncated PNG chunk header")
        (length,) = struct.unpack(">I", png[position : position + 4])
        kind = png[position + 4 : position + 8]
        end = position + 12 + length
        if end > len(png):
            raise ValueError("truncated PNG chunk")
        yield position, kind, png[position + 8 : position + 8 + length]
        position = end


def png_insert_xmp(png: bytes, packet: str) -> bytes:
    """The PNG with one XMP iTXt chunk right after IHDR (an older XMP chunk is replaced)."""
    itxt = XMP_KEYWORD + b"\x00\x00\x00\x00\x00" + packet.encode("utf-8")
    parts = [PNG_SIGNATURE]
    for offset, kind, data in png_chunks(png):
        if kind == b"iTXt" and data.startswith(XMP_KEYWORD + b"\x00"):
            continue
        parts.append(png[offset : offset + 12 + len(data)])
        if kind == b"IHDR":
            parts.append(_chunk(b"iTXt", itxt))
    return b"".join(parts)


def png_read_xmp(png: bytes) -> str | None:
    """The XMP packet of a PNG, if it has one (uncompressed iTXt, as we write it)."""
    for _, kind, data in png_chunks(png):
        if kind == b"iTXt" and data.startswith(XMP_KEYWORD + b"\x00"):
            rest = data[len(XMP_KEYWORD) + 1 :]
            compressed = rest[0] == 1
            # compression flag, method, language tag\0, translated keyword\0, text
            _, _, tail = rest[2:].partition(b"\x00")
            _, _, text = tail.partition(b"\x00")
            return (zlib.decompress(text) if compressed else text).decode("utf-8")
    return None
