"""Hostile web.config payloads for the hardening suite (issue 7, contract A2).

Each payload is built from a :class:`Traps` context so that anything a careless parser would
fetch points at a trap the probe watches: a FIFO (a reader blocks in ``open`` until the probe's
watcher opens the write end, so any open is seen, even from C code that bypasses Python's audit
hooks), and a TCP listener on 127.0.0.1 (any connection is seen by ``accept``).

This module is imported both by the tests (for the payload names) and by ``_probe.py`` (which
builds and parses the payload in a fresh interpreter).
"""

from __future__ import annotations

import gzip
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["PAYLOADS", "VALID_CONFIG", "Payload", "Traps", "padded_config"]

DEFAULT_MAX_BYTES = 256_000  # 250 KiB, IIS's default web.config limit (contract A2)


@dataclass(frozen=True, slots=True)
class Traps:
    """Where a hostile payload points: nothing may ever touch these."""

    fifo: str  # a named pipe; opening it for reading is detected
    port: int  # a listening socket on 127.0.0.1; connecting to it is detected

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/evil.dtd"


@dataclass(frozen=True, slots=True)
class Payload:
    """One hostile input and the reaction the contract requires."""

    build: Callable[[Traps], bytes]
    # Diagnostic codes of which at least one must be reported as an error.  An empty set means
    # "some error, any code" (e.g. an unrecognized element, whose code the loader chooses).
    codes: frozenset[str] = frozenset()
    max_bytes: int = DEFAULT_MAX_BYTES
    as_path: bool = False  # pass the payload as a file path instead of bytes
    accepted: bool = False  # the file is valid: it must load, and must not allow the probe origin
    note: str = ""
    extra: dict[str, str] = field(default_factory=dict)


# A strict, valid configuration; the hostile variants below are built around it.
VALID_CONFIG = """<?xml version="1.0" encoding="{encoding}"?>
<configuration>
  <!-- non-ASCII comment so that decoding matters: é ü 🔐 -->
  <system.webServer>
    <cors enabled="true" failUnlistedOrigins="true">
      <add origin="https://*.contoso.com" allowCredentials="true" maxAge="600">
        <allowHeaders><add header="content-type" /></allowHeaders>
        <allowMethods><add method="GET" /><add method="POST" /></allowMethods>
        <exposeHeaders><add header="x-request-id" /></exposeHeaders>
      </add>
      <add origin="https://blocked.contoso.com" allowed="false" />
    </cors>
  </system.webServer>
</configuration>
"""

_CORS_ALLOW_ALL = '<cors enabled="true"><add origin="*" allowCredentials="true" /></cors>'


def _valid(encoding: str = "utf-8") -> str:
    return VALID_CONFIG.format(encoding=encoding)


def padded_config(size: int) -> bytes:
    """A valid configuration padded with a comment to exactly ``size`` bytes."""
    head = _valid().encode("utf-8")
    filler = size - len(head) - len("<!--  -->\n")
    if filler < 0:
        raise ValueError("size too small")
    return head + b"<!-- " + b"x" * filler + b" -->\n"


def _doc_with_doctype(doctype: str, body: str = "") -> bytes:
    body = body or (
        '<system.webServer><cors enabled="true">'
        '<add origin="https://*.contoso.com" allowCredentials="false" />'
        "</cors></system.webServer>"
    )
    return (
        f'<?xml version="1.0" encoding="utf-8"?>\n{doctype}\n'
        f"<configuration>{body}</configuration>\n"
    ).encode()


def _entity_use(traps: Traps, system_id: str) -> bytes:
    # In element content: XML forbids external entities in attribute values, so a reference
    # there would be refused by any parser before anything is fetched.
    return _doc_with_doctype(
        f'<!DOCTYPE configuration [\n  <!ENTITY xxe SYSTEM "{system_id}">\n]>',
        '<system.webServer>&xxe;<cors enabled="true">'
        '<add origin="https://a.example" allowCredentials="true" /></cors></system.webServer>',
    )


def _billion_laughs(_: Traps) -> bytes:
    lines = ['<!ENTITY lol0 "lol">']
    for i in range(1, 10):
        prev = f"&lol{i - 1};"
        lines.append(f'<!ENTITY lol{i} "{prev * 10}">')
    return _doc_with_doctype(
        "<!DOCTYPE configuration [\n" + "\n".join(lines) + "\n]>",
        '<system.webServer><cors enabled="true"><add origin="&lol9;" /></cors></system.webServer>',
    )


def _quadratic(_: Traps) -> bytes:
    # 100 kB entity referenced 30,000 times: 3 GB if expanded, ~190 kB on disk (under 250 KiB).
    big = "a" * 100_000
    uses = "&a;" * 30_000
    return _doc_with_doctype(
        f'<!DOCTYPE configuration [<!ENTITY a "{big}">]>',
        f'<system.webServer><cors enabled="true"><add origin="{uses}" /></cors></system.webServer>',
    )


def _attlist_defaults(_: Traps) -> bytes:
    # If DTD defaults were applied, this rule would silently gain allowCredentials="true"
    # and the section enabled="true" (contract A2: a DOCTYPE is an error, nothing from it applies).
    return _doc_with_doctype(
        "<!DOCTYPE configuration [\n"
        '  <!ATTLIST add allowCredentials CDATA "true">\n'
        '  <!ATTLIST cors enabled CDATA "true" failUnlistedOrigins CDATA "false">\n'
        "]>",
        '<system.webServer><cors><add origin="https://*.contoso.com" /></cors></system.webServer>',
    )


def _utf16_doctype(bom: bytes, codec: str, declared: str = "utf-16") -> Callable[[Traps], bytes]:
    def build(traps: Traps) -> bytes:
        text = (
            f'<?xml version="1.0" encoding="{declared}"?>\n'
            f'<!DOCTYPE configuration [<!ENTITY xxe SYSTEM "{traps.fifo}">]>\n'
            '<configuration><system.webServer>&xxe;<cors enabled="true">'
            '<add origin="https://a.example" allowCredentials="true" />'
            "</cors></system.webServer></configuration>\n"
        )
        return bom + text.encode(codec)

    return build


def _deep(depth: int, inside_cors: bool) -> Callable[[Traps], bytes]:
    def build(_: Traps) -> bytes:
        tag = "allowHeaders" if inside_cors else "x"
        inner = f"<{tag}>" * depth + f"</{tag}>" * depth
        if inside_cors:
            body = f'<cors enabled="true"><add origin="https://a.example">{inner}</add></cors>'
        else:
            body = f'<cors enabled="true" /><other>{inner}</other>'
        return (
            f'<?xml version="1.0"?>\n<configuration><system.webServer>{body}'
            "</system.webServer></configuration>\n"
        ).encode()

    return build


def _xinclude(where: str) -> Callable[[Traps], bytes]:
    def build(traps: Traps) -> bytes:
        inc = f'<xi:include href="{traps.fifo}" parse="xml" />'
        xmlns = 'xmlns:xi="http://www.w3.org/2001/XInclude"'
        if where == "cors":
            section = f'<cors enabled="true" {xmlns}>{inc}</cors>'
            sws = "<system.webServer>" + section + "</system.webServer>"
        elif where == "rule":
            section = (
                f'<cors enabled="true" {xmlns}><add origin="https://a.example">{inc}</add></cors>'
            )
            sws = "<system.webServer>" + section + "</system.webServer>"
        else:  # replaces the whole section: if processed, the FIFO would supply a <cors>
            sws = f"<system.webServer {xmlns}>{inc}</system.webServer>"
        return f'<?xml version="1.0"?>\n<configuration>\n{sws}\n</configuration>\n'.encode()

    return build


def _replace_once(old: str, new: bytes) -> Callable[[Traps], bytes]:
    def build(_: Traps) -> bytes:
        data = _valid().encode()
        assert old.encode() in data
        return data.replace(old.encode(), new, 1)

    return build


_E103 = frozenset({"E103"})
# Undecodable bytes: the brief names E104, the loader's catalogue treats them as malformed XML
# (libxml2's "Invalid bytes in character encoding", E102).  Either is a clear, located error.
_UNDECODABLE = frozenset({"E104", "E102"})

PAYLOADS: dict[str, Payload] = {
    # --- DTDs and entities: every DOCTYPE is an error (contract A2) -----------------------
    "xxe-file-entity": Payload(lambda t: _entity_use(t, t.fifo), _E103),
    "xxe-file-uri-entity": Payload(lambda t: _entity_use(t, "file://" + t.fifo), _E103),
    "xxe-etc-passwd": Payload(lambda t: _entity_use(t, "file:///etc/passwd"), _E103),
    "xxe-network-entity": Payload(lambda t: _entity_use(t, t.url), _E103),
    "parameter-entity-file": Payload(
        lambda t: _doc_with_doctype(
            f'<!DOCTYPE configuration [<!ENTITY % p SYSTEM "{t.fifo}"> %p;]>'
        ),
        _E103,
    ),
    "parameter-entity-dev-zero": Payload(
        # the lxml 6.1 collect_ids=False trap: this hangs a parser that reads local DTD refs
        lambda t: _doc_with_doctype(
            '<!DOCTYPE configuration [<!ENTITY % z SYSTEM "/dev/zero"> %z;]>'
        ),
        _E103,
    ),
    "parameter-entity-network": Payload(
        lambda t: _doc_with_doctype(
            f'<!DOCTYPE configuration [<!ENTITY % n SYSTEM "{t.url}"> %n;]>'
        ),
        _E103,
    ),
    "external-dtd-file": Payload(
        lambda t: _doc_with_doctype(f'<!DOCTYPE configuration SYSTEM "{t.fifo}">'), _E103
    ),
    "external-dtd-network": Payload(
        lambda t: _doc_with_doctype(
            f'<!DOCTYPE configuration PUBLIC "-//EVIL//DTD X//EN" "{t.url}">'
        ),
        _E103,
    ),
    "billion-laughs": Payload(_billion_laughs, _E103),
    "quadratic-blowup": Payload(_quadratic, _E103),
    "attlist-defaults-allow-credentials": Payload(_attlist_defaults, _E103),
    "doctype-after-comment": Payload(
        lambda t: (
            b'<?xml version="1.0"?>\n<!-- innocent -->\n<?pi x?>\n'
            + f'<!DOCTYPE configuration [<!ENTITY xxe SYSTEM "{t.fifo}">]>\n'.encode()
            + b'<configuration><system.webServer>&xxe;<cors enabled="true">'
            + b'<add origin="https://a.example" /></cors></system.webServer></configuration>\n'
        ),
        _E103,
    ),
    "doctype-empty-internal-subset": Payload(
        lambda t: _doc_with_doctype("<!DOCTYPE configuration []>"), _E103
    ),
    # --- DOCTYPE hidden in UTF-16 (contract A2: UTF-16 with BOM is read as declared) --------
    "doctype-utf16-le-bom": Payload(_utf16_doctype(b"\xff\xfe", "utf-16-le"), _E103),
    "doctype-utf16-be-bom": Payload(_utf16_doctype(b"\xfe\xff", "utf-16-be"), _E103),
    # UTF-16 without a BOM is itself an error (E104); the DOCTYPE may be reported too
    "doctype-utf16-le-no-bom": Payload(
        _utf16_doctype(b"", "utf-16-le"), frozenset({"E104", "E103"})
    ),
    # A DOCTYPE in encodings whose bytes hide "<!DOCTYPE" from a byte-level check: refused
    # either as a DOCTYPE or because the encoding itself is refused (this libxml2 build has no
    # EBCDIC; UTF-32 without BOM starts with NUL bytes).  Never parsed with its entities.
    "doctype-ebcdic-cp037": Payload(
        _utf16_doctype(b"", "cp037", declared="IBM037"), frozenset({"E103", "E104", "E102"})
    ),
    "doctype-utf32-be": Payload(
        _utf16_doctype(b"", "utf-32-be", declared="UTF-32"), frozenset({"E103", "E104", "E102"})
    ),
    "doctype-utf32-le-bom": Payload(
        _utf16_doctype(b"\xff\xfe\x00\x00", "utf-32-le", declared="UTF-32"),
        frozenset({"E103", "E104", "E102"}),
    ),
    "doctype-utf7": Payload(
        _utf16_doctype(b"", "utf-7", declared="UTF-7"), frozenset({"E103", "E104", "E102"})
    ),
    # --- encodings (contract A2) ---------------------------------------------------------
    "utf16-no-bom-valid-body": Payload(
        lambda t: _valid("utf-16").encode("utf-16-le"), frozenset({"E104"})
    ),
    "utf8-bom-declares-utf16": Payload(
        lambda t: b"\xef\xbb\xbf" + _valid("utf-16").encode("utf-8"), frozenset({"E104"})
    ),
    "utf16-bom-declares-utf8": Payload(
        lambda t: b"\xff\xfe" + _valid("utf-8").encode("utf-16-le"), frozenset({"E104"})
    ),
    "invalid-utf8-in-attribute": Payload(
        _replace_once("blocked.contoso.com", b"bl\xc3\x28cked.contoso.com"), _UNDECODABLE
    ),
    "invalid-utf8-overlong-slash": Payload(
        _replace_once("blocked.contoso.com", b"blocked\xc0\xafcontoso.com"), _UNDECODABLE
    ),
    "invalid-utf8-surrogate": Payload(
        _replace_once("non-ASCII", b"non\xed\xa0\x80ASCII"), _UNDECODABLE
    ),
    "invalid-utf8-lone-ff": Payload(
        _replace_once("<configuration>", b"<configuration>\xff"), _UNDECODABLE
    ),
    # --- nesting (contract A2: bounded depth, never a RecursionError) ---------------------
    "nesting-1500-outside-cors": Payload(_deep(1500, inside_cors=False), frozenset({"E105"})),
    "nesting-1500-inside-cors": Payload(_deep(1500, inside_cors=True), frozenset({"E105"})),
    "nesting-100000": Payload(
        _deep(100_000, inside_cors=False), frozenset({"E105"}), max_bytes=4_000_000
    ),
    # --- XInclude: never processed -----------------------------------------------------------
    "xinclude-in-cors": Payload(_xinclude("cors"), frozenset()),  # unrecognized element (A4)
    "xinclude-in-rule": Payload(_xinclude("rule"), frozenset()),  # unrecognized element (A4)
    "xinclude-replacing-section": Payload(
        _xinclude("system.webServer"),
        accepted=True,
        note="outside <cors> other sections are not validated (A1): the file loads, "
        "but the include must not be fetched, so no <cors> section appears",
    ),
    # --- other malformed input ----------------------------------------------------------
    "gzip-compressed": Payload(
        lambda t: gzip.compress(_valid().encode()), frozenset({"E102", "E104"})
    ),
    "truncated-half": Payload(
        lambda t: _valid().encode()[: len(_valid().encode()) // 2], frozenset({"E102"})
    ),
    "truncated-mid-tag": Payload(
        lambda t: _valid().encode().split(b"allowCredentials")[0] + b"allowCred",
        frozenset({"E102"}),
    ),
    "empty-file": Payload(lambda t: b"", frozenset({"E102"})),
    "duplicated-attribute": Payload(
        _replace_once(
            'allowCredentials="true"', b'allowCredentials="false" allowCredentials="true"'
        ),
        frozenset({"E102"}),
    ),
    "duplicated-origin-attribute": Payload(
        _replace_once(
            'origin="https://blocked.contoso.com"',
            b'origin="https://blocked.contoso.com" origin="https://evil.example"',
        ),
        frozenset({"E102"}),
    ),
    "nul-in-attribute": Payload(
        _replace_once("blocked.contoso.com", b"blocked\x00.contoso.com"),
        frozenset({"E102", "E104"}),
    ),
    "nul-between-elements": Payload(
        _replace_once("</cors>", b"\x00\x00</cors>"), frozenset({"E102", "E104"})
    ),
    # --- size (contract A2: 250 KiB default, adjustable) ----------------------------------
    "over-250KiB-bytes": Payload(
        lambda t: padded_config(DEFAULT_MAX_BYTES + 1), frozenset({"E101"})
    ),
    "over-250KiB-path": Payload(
        lambda t: padded_config(DEFAULT_MAX_BYTES + 1), frozenset({"E101"}), as_path=True
    ),
    "over-limit-50MB-sparse-path": Payload(
        # built specially by the probe (a sparse file): must be refused without being read
        lambda t: b"",
        frozenset({"E101"}),
        as_path=True,
        extra={"sparse_size": str(50 * 1024 * 1024)},
    ),
    "exactly-250KiB-accepted": Payload(lambda t: padded_config(DEFAULT_MAX_BYTES), accepted=True),
    "300KiB-accepted-with-raised-limit": Payload(
        lambda t: padded_config(300 * 1024), max_bytes=1_000_000, accepted=True
    ),
    "300KiB-path-accepted-with-raised-limit": Payload(
        lambda t: padded_config(300 * 1024), max_bytes=1_000_000, accepted=True, as_path=True
    ),
    "small-limit-refuses-valid-file": Payload(
        lambda t: _valid().encode(), frozenset({"E101"}), max_bytes=100
    ),
}

# The section a processed XInclude would smuggle in.
XINCLUDE_SMUGGLED = f"<system.webServer>{_CORS_ALLOW_ALL}</system.webServer>"
