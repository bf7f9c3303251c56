"""A web.config's bytes as text, and back to the very same bytes.

``iiscors fix`` edits text, so it must turn the edited text back into bytes in the file's own
encoding, byte order mark included.  :func:`decode` picks the encoding as the loader does
(contract A2: a byte order mark, else the XML declaration, else UTF-8), decodes strictly, and
accepts the file only when encoding the text again gives back every byte: UTF-8 with or without
a BOM, UTF-16 with a BOM (either byte order) and the single-byte encodings a declaration names
all qualify.  Anything else is refused (:class:`Unfixable`) before a byte is written.

The text handed to the planner is what the loader's positions count in: the decoded text
without its leading U+FEFF characters.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

from iiscors.config.loader import BYTE_ORDER_MARKS, UTF32_BYTE_ORDER_MARKS

#: The XML declaration's encoding label, as the loader reads it.
_DECLARED = re.compile(rb"""^<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9._\-]+)["']""")


class Unfixable(Exception):
    """This file cannot be repaired; the message says why, in a sentence."""


@dataclass(frozen=True, slots=True)
class SourceText:
    """A file's text and how to write it back.

    :param codec: the Python codec that decodes and encodes the whole file.
    :param lead: the leading U+FEFF characters (the byte order mark, as text).
    :param body: the rest: what the loader's lines and columns count in.
    """

    codec: str
    lead: str
    body: str

    def encode(self, body: str) -> bytes:
        """The bytes of a file holding ``body``, written as the original was."""
        try:
            return (self.lead + body).encode(self.codec)
        except UnicodeEncodeError as exc:
            raise Unfixable(f"the repaired text cannot be written in {self.codec}") from exc


def codec_of(data: bytes) -> str:
    """The encoding the loader reads ``data`` in (contract A2)."""
    if data.startswith(UTF32_BYTE_ORDER_MARKS):
        raise Unfixable("UTF-32 files are not supported")
    for bom, codec in BYTE_ORDER_MARKS:
        if data.startswith(bom):
            return codec
    declared = _DECLARED.match(data)
    if declared is None:
        return "utf-8"
    label = declared.group(1).decode("ascii")
    try:
        return codecs.lookup(label).name
    except LookupError as exc:
        raise Unfixable(f"unsupported encoding {label!r}") from exc


def decode(data: bytes) -> SourceText:
    """Decode ``data``, or refuse it when it would not be written back byte for byte."""
    codec = codec_of(data)
    try:
        text = data.decode(codec)
    except UnicodeDecodeError as exc:
        raise Unfixable(f"the file is not valid {codec}") from exc
    if text.encode(codec) != data:
        raise Unfixable(f"the file's {codec} bytes would not be written back identically")
    body = text.lstrip("\ufeff")
    return SourceText(codec, text[:len(text) - len(body)], body)
