"""Read web.config bytes into an lxml tree, hardened, with every problem located (contract A1, A2).

iiscors reads files from strangers' pull requests, so the parser never loads a DTD, never expands
an entity, never touches the network or another file, and refuses any DOCTYPE.  It reads the
bytes itself (lxml given a path would silently gunzip) and caps their size first.

Use :func:`parse_bytes` for bytes already in hand and :func:`read_source` for a path; both return
diagnostics instead of raising.  The tree is then walked by :mod:`iiscors.config.rules`.
"""

from __future__ import annotations

import bisect
import codecs
import contextlib
import operator
import os
import re
import threading
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import accumulate, compress, count, islice, repeat, starmap

from lxml import etree

from iiscors.config.diagnostics import Diagnostic, make
from iiscors.config.files import read_regular_file

#: IIS's default web.config size limit (MaxWebConfigFileSizeInKB = 250).
DEFAULT_MAX_BYTES = 250 * 1024

#: The most characters of a document's text, and the most elements, one C call reads: a hot
#: reload runs the loader on a thread beside requests, and the interpreter cannot switch
#: threads inside one C call, so a call over a whole 17 MB file kept every request waiting for
#: 40-220 ms (issue 17, tools/gil_holds.py).  Slices keep each call near a millisecond (4,096
#: elements took up to 3 ms on a slow VM, 1,024 take under one).
TEXT_SLICE = 1 << 16
ELEMENT_SLICE = 1024
#: How many start tags' offsets one block of :class:`Offsets` holds (128 KiB of pointers)
OFFSETS_BLOCK = 1 << 14
#: A document whose text is shorter is freed at once (:func:`release`).
RELEASED_IN_SLICES = 1 << 20
#: A file this long or longer is decoded a slice at a time beside requests (:func:`decoded`).
READ_IN_PIECES = 1 << 20
#: How many characters the :class:`Locator` counts, in all, to place single offsets before it
#: builds its table of line starts (a count of 1 MiB takes about 0.3 ms: a few places near
#: the top of a large file cost far less than the table, and many places at most twice it)
COUNTED_CHARACTERS = 1 << 20
#: Rules whose freed blocks the C allocator sorts out in one go, beside requests
#: (:func:`sort_freed_blocks`: about ten blocks a rule; 1,024 rules took 1.1-1.4 ms a slice,
#: tools/gil_holds.py --trace).
FREED_SLICE = 512
#: Larger than glibc's per-thread cache serves (1,032 bytes), smaller than the least size it
#: gives a mapping of its own (128 KiB): an allocation from the heap, which sorts the fast bins.
SORTING_BLOCK = 4096

#: Deeper than any real web.config; libxml2 stops at 256 on its own.
MAX_DEPTH = 100

Source = str | os.PathLike[str] | bytes


class _RefuseAll(etree.Resolver):
    """A resolver that answers every external reference with nothing (contract A2)."""

    def resolve(self, system_url: str | None, public_id: str | None, context: object) -> None:
        raise etree.XMLSyntaxError(f"external reference refused: {system_url!r}", 0, 0, 0)


def _make_parser() -> etree.XMLParser:
    # Deliberately not passing collect_ids=False: with lxml 6.1.x it makes libxml2 read local
    # DTD references despite load_dtd=False (issue 7's known trap).
    parser = etree.XMLParser(
        resolve_entities=False,
        load_dtd=False,
        dtd_validation=False,
        attribute_defaults=False,
        no_network=True,
        huge_tree=False,
        remove_blank_text=False,
        recover=False,
    )
    parser.resolvers.add(_RefuseAll())
    return parser


#: The byte order marks contract A2 accepts and the encoding each announces, written once
#: for the loader and for the directory search's peek at a file's root element.
BYTE_ORDER_MARKS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
#: UTF-32's marks, which begin like UTF-16's: a reader that must refuse them checks them first.
UTF32_BYTE_ORDER_MARKS = (codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)
_DECLARED = re.compile(rb"""^<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9._\-]+)["']""")
_DECLARED_TEXT = re.compile(r"""^<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9._\-]+)["']""")


@dataclass(frozen=True, slots=True)
class XmlDocument:
    """A parsed, well-formed web.config and what is needed to locate its nodes."""

    name: str
    root: etree._Element
    locator: Locator


def release(document: XmlDocument) -> None:
    """Free a read document: at once, or a slice at a time on a thread that reads
    :func:`beside_requests`.  Dropped at once, a 100,000-rule file's 500,000 element proxies and
    its tree are freed in one cascade of deallocations that holds the GIL for 50-130 ms, during
    which a hot reload's requests wait (issue 17); in slices, the Locator's tables go
    :data:`ELEMENT_SLICE` entries a call, and the tree's wide elements one child at a time
    (lxml counts every child to delete a slice), which costs the reload thread about twice
    the time.  The caller must be done with the document: its tree is emptied."""
    if not _reading_beside_requests() or document.locator._text.size < RELEASED_IN_SLICES:
        return  # freed with the last reference
    document.locator.release()
    wide = [document.root]
    while wide:
        element = wide.pop()
        # (not len(element): lxml counts the children one by one, all 100,000 of them)
        if len(list(islice(element, ELEMENT_SLICE + 1))) > ELEMENT_SLICE:
            remove = element.remove
            removed = 0
            while (child := next(iter(element), None)) is not None:
                remove(child)  # its subtree is freed once its proxy is dropped
                removed += 1
                if removed % FREED_SLICE == 0:
                    sort_freed_blocks()
            child = None
        else:
            wide.extend(element)
    sort_freed_blocks()


def sort_freed_blocks() -> None:
    """Have the C allocator sort out the small blocks freed since the last call, now.

    glibc's malloc keeps small freed blocks (libxml2's nodes and attributes, about ten for each
    rule of a released tree) in "fast bins", and merges them all in one pass the next time a
    large block is allocated or freed (``malloc_consolidate``).  After a 100,000-rule tree, that
    pass over a million blocks held the GIL for 90-120 ms, wherever the next large block came:
    freeing the document's text, a dict growing (issue 17, tools/gil_holds.py).  Allocating
    a block too large for the per-thread cache and too small for its own mapping
    (:data:`SORTING_BLOCK` bytes) runs that pass for what was freed since the last call, a slice
    at a time.  Elsewhere than glibc, or with nothing freed, it costs an allocation."""
    bytearray(SORTING_BLOCK)


@contextlib.contextmanager
def beside_requests() -> Iterator[None]:
    """Documents read on this thread meanwhile are released a slice at a time
    (:func:`release`): what a hot reload's thread does (iiscors.reload)."""
    before = _reading_beside_requests()
    _SLICED.on = True
    try:
        yield
    finally:
        _SLICED.on = before


#: Whether this thread releases documents in slices (:func:`beside_requests`)
_SLICED = threading.local()


def _reading_beside_requests() -> bool:
    """Whether this thread reads inside :func:`beside_requests`."""
    return bool(getattr(_SLICED, "on", False))


def read_source(source: Source, *, name: str | None = None,
                max_bytes: int = DEFAULT_MAX_BYTES) -> tuple[bytes | None, str, list[Diagnostic]]:
    """Return ``(data, display name, diagnostics)``; ``data`` is None when it cannot be used."""
    if isinstance(source, bytes | bytearray | memoryview):
        data = bytes(source)
        display = name or "<bytes>"
    else:
        display = name or os.fspath(source)
        try:
            data = _read_within(source, max_bytes)
        except OSError as exc:
            return None, display, [make("E100", f"Cannot read the file: {exc.strerror or exc}",
                                        display)]
    if len(data) > max_bytes:
        # Located at line 1: the whole file is the problem, and annotations need a line.
        return None, display, [make(
            "E101", f"The file is larger than the limit of {max_bytes} bytes "
            f"(IIS's default web.config limit is 250 KiB)", display, 1)]
    return data, display, []


def _read_within(path: str | os.PathLike[str], max_bytes: int) -> bytes:
    """The file at ``path``, or ``max_bytes + 1`` of its bytes when it is larger: one byte past
    the limit is enough to know it is too large, never more.  Read with a limit of its size
    plus one, as its stat says, when that is less: the reader allocates its limit first, and a
    limit four times a 17 MB file held the GIL 6-8 ms per read beside a reload's requests
    (issue 17, tools/gil_holds.py).  A file that grew after the stat is read again."""
    try:
        limit = min(os.stat(path).st_size, max_bytes) + 1
    except OSError:
        limit = max_bytes + 1  # (the read reports the problem, as it always did)
    data = read_regular_file(path, limit)  # never blocks on a FIFO
    if len(data) == limit <= max_bytes:
        data = read_regular_file(path, max_bytes + 1)  # it grew meanwhile
    return data


def _encoding_of(data: bytes, name: str) -> tuple[str | None, list[Diagnostic]]:
    """Decide the encoding per contract A2; None with a diagnostic when it is refused."""
    if data.startswith((b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff")):
        # Before the UTF-16 check: a UTF-32-LE BOM starts with the UTF-16-LE one.
        return None, [make("E104", "UTF-32 is not supported", name, 1, 1)]
    for bom, encoding in BYTE_ORDER_MARKS:
        if data.startswith(bom):
            body = data[len(bom):].decode(encoding, errors="replace")
            declared = _DECLARED_TEXT.match(body)
            if declared and not _same_family(declared.group(1), encoding):
                return None, [make("E104", f"The byte order mark says {encoding} but the XML "
                                   f"declaration says {declared.group(1)}", name, 1, 1)]
            return encoding, []
    if data.startswith((b"<\x00", b"\x00<")):
        return None, [make("E104", "UTF-16 without a byte order mark", name, 1, 1)]
    declared_bytes = _DECLARED.match(data)
    if declared_bytes is None:
        return "utf-8", []
    label = declared_bytes.group(1).decode("ascii")
    try:
        python_name = codecs.lookup(label).name
    except LookupError:
        return None, [make("E104", f"Unsupported encoding {label!r} in the XML declaration",
                           name, 1, 1)]
    if python_name.startswith("utf-16"):
        return None, [make("E104", "The XML declaration says UTF-16 but there is no byte "
                           "order mark", name, 1, 1)]
    return python_name, []


def _same_family(label: str, encoding: str) -> bool:
    try:
        declared = codecs.lookup(label).name
    except LookupError:
        return False
    if encoding.startswith("utf-16"):
        return declared in ("utf-16", encoding)
    return declared == encoding


def parse_bytes(data: bytes, name: str) -> tuple[XmlDocument | None, list[Diagnostic]]:
    """Parse web.config bytes; return the document or the diagnostics that stopped it."""
    encoding, diagnostics = _encoding_of(data, name)
    if encoding is None:
        return None, diagnostics
    text = decoded(data, encoding)
    nul = text.find("\x00")
    if nul >= 0:
        line, column = text.line_and_column(nul)
        return None, [make("E102", "A NUL character is not allowed in XML", name, line,
                           column)]
    doctype = _doctype_at(text)
    if doctype >= 0:
        # Refused before libxml2 sees it, so no entity declaration is ever processed.
        line, column = text.line_and_column(doctype)
        return None, [make("E103", "A DOCTYPE is not allowed (no DTD or entity is ever read)",
                           name, line, column)]
    try:
        root = etree.fromstring(data, _make_parser())
    except etree.XMLSyntaxError as exc:
        return None, [_syntax_diagnostic(exc, name)]
    tree = root.getroottree()
    if tree.docinfo.doctype or tree.docinfo.internalDTD is not None:
        # The byte check above cannot miss one today; this guards against a future decode gap.
        return None, [make("E103", "A DOCTYPE is not allowed", name, 1)]
    deep = _too_deep(root)
    if deep is not None:
        return None, [make("E105", f"Elements are nested more than {MAX_DEPTH} levels deep",
                           name, deep.sourceline)]
    if root.tag == "{" + NET_CONFIGURATION_NS + "}configuration":
        _drop_namespace(root)
    return XmlDocument(name, root, Locator(text, root)), []


#: Visual Studio 2005 wrote ``<configuration xmlns="…/.NetConfiguration/v2.0">``; the IIS and
#: .NET configuration systems ignore that namespace, so years-old web.config files still carry it.
NET_CONFIGURATION_NS = "http://schemas.microsoft.com/.NetConfiguration/v2.0"


def _drop_namespace(root: etree._Element) -> None:
    prefix = "{" + NET_CONFIGURATION_NS + "}"
    for element in root.iter():
        if isinstance(element.tag, str) and element.tag.startswith(prefix):
            element.tag = element.tag[len(prefix):]


_DOCTYPE_SCAN = re.compile(r"<!--.*?(?:-->|$)|<!\[CDATA\[.*?(?:\]\]>|$)|<!DOCTYPE", re.S)


def _doctype_at(text: Text) -> int:
    """Where a DOCTYPE declaration starts, or -1: the text of comments and CDATA sections
    does not count (a commented-out DOCTYPE is no DOCTYPE)."""
    if text.find("<!") < 0:
        return -1  # no comment, CDATA section or DOCTYPE (read in slices: issue 17)
    for base, piece in text.whole_constructs():
        for found in _DOCTYPE_SCAN.finditer(piece):
            if found.group() == "<!DOCTYPE":
                return base + found.start()
    return -1


def _syntax_diagnostic(exc: etree.XMLSyntaxError, name: str) -> Diagnostic:
    line, column = exc.position if exc.position else (None, None)
    message = (exc.msg or str(exc)).strip()
    # libxml2 appends "(line N, column M)"; the location is already in the diagnostic.
    message = re.sub(r",? ?\(?line \d+, column \d+\)?$", "", message) or "malformed XML"
    code = "E105" if "Excessive depth" in message else "E102"
    if "Document is empty" in message or "Start tag expected" in message:
        line, column = line or 1, column or 1
    return make(code, message, name, line or None, (column or None) if line else None)


#: The elements nested deeper than MAX_DEPTH, found by libxml2 in one pass (no Python per
#: element: a 100,000-rule file is read on every load, issue 17).
_BELOW_MAX_DEPTH = etree.XPath("/*" + "/*" * MAX_DEPTH)


def _too_deep(root: etree._Element) -> etree._Element | None:
    if not _BELOW_MAX_DEPTH(root):
        return None
    # Which one is reported: the first the walk below meets, as it always was.
    # Iterative on purpose: a recursive walk would raise RecursionError on hostile nesting.
    stack: list[tuple[etree._Element, int]] = [(root, 1)]
    while stack:
        element, depth = stack.pop()
        if depth > MAX_DEPTH:
            return element
        stack.extend((child, depth + 1) for child in element if isinstance(child.tag, str))
    return None


def load_document(source: Source, *, name: str | None = None,
                  max_bytes: int = DEFAULT_MAX_BYTES) -> tuple[XmlDocument | None,
                                                               str, list[Diagnostic]]:
    """Read and parse ``source``: ``(document or None, display name, diagnostics)``."""
    data, display, diagnostics = read_source(source, name=name, max_bytes=max_bytes)
    if data is None:
        return None, display, diagnostics
    document, diagnostics = parse_bytes(data, display)
    return document, display, diagnostics


def decoded(data: bytes, encoding: str) -> Text:
    """``data`` decoded (invalid bytes replaced, leading byte order marks dropped): in one
    call, or, for a file of over :data:`READ_IN_PIECES` bytes read :func:`beside_requests`,
    :data:`TEXT_SLICE` bytes a call into pieces of text each cut before a "<" (issue 17:
    decoding a 17 MB file in one call held the GIL 7-13 ms beside a reload's requests, most
    of it the first touch of the 17 MB it wrote; joining the pieces would cost the same)."""
    if not _reading_beside_requests() or len(data) < READ_IN_PIECES:
        return Text([data.decode(encoding, errors="replace").lstrip("\ufeff")])
    decoder = codecs.getincrementaldecoder(encoding)(errors="replace")
    view = memoryview(data)
    pieces: list[str] = []
    pending: list[str] = []  # what the next piece begins with
    for begin in range(0, len(data), TEXT_SLICE):
        end = begin + TEXT_SLICE
        chunk = decoder.decode(view[begin:end], end >= len(data))  # a split character waits
        cut = chunk.rfind("<")
        if cut < 0:
            pending.append(chunk)  # (joined once a "<" comes: never copied twice)
            continue
        pending.append(chunk[:cut])
        pieces.append("".join(pending))
        pending = [chunk[cut:]]
    pieces.append("".join(pending))
    while len(pieces) > 1 and not pieces[0].lstrip("\ufeff"):
        del pieces[0]  # (all byte order marks: whole, lstrip drops them all)
    pieces[0] = pieces[0].lstrip("\ufeff")
    return Text([piece for piece in pieces if piece] or [""])


class Text:
    """A document's decoded text, as pieces in order, each but the first beginning with a
    "<" (:func:`decoded`): a start tag, an end tag, and the "<!", "<?", "-->", "]]>" and
    "?>" markers are each within one piece; comments, CDATA sections and processing
    instructions may not be (:meth:`whole_constructs`).  One piece, except beside requests."""

    __slots__ = ("bases", "pieces", "size")

    def __init__(self, pieces: list[str]) -> None:
        self.pieces = pieces
        #: where each piece begins in the whole text
        self.bases = list(accumulate(map(len, pieces[:-1]), initial=0))
        self.size = self.bases[-1] + len(pieces[-1])

    def piece_at(self, offset: int) -> tuple[int, str]:
        """The piece holding ``offset``, and where it begins."""
        index = bisect.bisect_right(self.bases, offset) - 1
        return self.bases[index], self.pieces[index]

    def find(self, sub: str, start: int = 0) -> int:
        """``text.find(sub, start)``, for a ``sub`` with no "<" after its first character
        (it is then within one piece), :data:`TEXT_SLICE` characters a call."""
        first = bisect.bisect_right(self.bases, start) - 1
        for base, piece in zip(self.bases[first:], self.pieces[first:], strict=True):
            found = find_sliced(piece, sub, max(start - base, 0))
            if found >= 0:
                return base + found
        return -1

    def line_and_column(self, offset: int) -> tuple[int, int]:
        """The 1-based line of ``offset`` and its column (the characters since the line feed
        before it, 1-based): ``text.count("\\n", 0, offset) + 1`` and
        ``offset - text.rfind("\\n", 0, offset)``, a piece at a time (a diagnostic's place,
        asked once; :meth:`_advanced` from the start)."""
        _, line, feed = self._advanced((0, 1, -1), offset)
        return line, offset - feed

    def lines_and_columns(self, offsets: list[int], known: Place = (0, 1, -1)
                          ) -> tuple[list[int], list[int], Place]:
        """The 1-based lines and columns of ``offsets``, ascending and none before ``known``
        (a place: its offset, its line, where the line feed before it is or -1), and the
        place of the last of them (the next call's ``known``).  By C-level iterators: a line
        is the previous one's plus the line feeds between them (``str.count``), a column the
        distance to the line feed before it, looked for back to the previous offset only
        (``str.rfind``: a long line is not read again for each offset on it).  Issue 17: a
        section's rules are placed this way in a third less time than by bisecting a table
        of every line's start, and that table is not built (:class:`Locator`)."""
        lines: list[int] = []
        columns: list[int] = []
        if not offsets:
            return lines, columns, known
        first = bisect.bisect_right(self.bases, offsets[0]) - 1  # (the pieces before: none)
        ends = [*self.bases[first + 1:], self.size + 1]
        begin = 0
        for base, end, piece in zip(self.bases[first:], ends, self.pieces[first:], strict=True):
            if begin == len(offsets):
                break
            stop = bisect.bisect_left(offsets, end, begin)
            if stop == begin:
                continue
            known = self._advanced(known, base)
            local = list(map(operator.sub, offsets[begin:stop], repeat(base)))
            found = _piece_lines_and_columns(piece, local, known[0] - base, known[1],
                                             known[2] - base)
            lines += found[0]
            columns += found[1]
            known = (offsets[stop - 1], lines[-1], offsets[stop - 1] - columns[-1])
            begin = stop
        return lines, columns, known

    def _advanced(self, known: Place, offset: int) -> Place:
        """The place of ``offset``, at or after ``known``'s offset (and the same place when
        that offset is not before it): known's line plus the line feeds between them."""
        at, line, feed = known
        if offset <= at:
            return known
        first = bisect.bisect_right(self.bases, at) - 1
        for base, piece in zip(self.bases[first:], self.pieces[first:], strict=False):
            if base >= offset:
                break
            low, high = max(at - base, 0), min(offset - base, len(piece))
            line += piece.count("\n", low, high)
            last = piece.rfind("\n", low, high)
            if last >= 0:
                feed = base + last
        return offset, line, feed

    def all_start_with(self, prefix: str, offsets: list[int]) -> bool:
        """Whether the text at each of ``offsets`` starts with ``prefix``, which holds no "<"
        (so it is within the piece where it begins), by C-level iterators."""
        if len(self.pieces) == 1:
            return all(map(self.pieces[0].startswith, repeat(prefix), offsets))
        indices = list(map(operator.sub, map(bisect.bisect_right, repeat(self.bases), offsets),
                           repeat(1)))
        return all(map(str.startswith, map(self.pieces.__getitem__, indices), repeat(prefix),
                       map(operator.sub, offsets, map(self.bases.__getitem__, indices))))

    def whole_constructs(self) -> list[tuple[int, str]]:
        """``(where it begins, piece)`` of each piece, a piece joined to the next ones where
        a comment, CDATA section or processing instruction goes on in them (a commented-out
        rule holds a "<", where a cut may fall): each can then be searched alone."""
        pieces, bases = self.pieces, self.bases
        if len(pieces) == 1:
            return [(0, pieces[0])]
        found: list[tuple[int, str]] = []
        index = 0
        while index < len(pieces):
            first = index
            end = _unclosed(pieces[index])
            while end is not None and index + 1 < len(pieces):
                index += 1  # the construct goes on: find where it ends in the next pieces
                at = pieces[index].find(end)
                if at >= 0:  # what begins after it is in this piece: read from there only
                    end = _unclosed(pieces[index], at + len(end))
            # joined once (joining at each end found copied the pieces again and again: a
            # chain of comments across every cut cost the square of the file's length)
            found.append((bases[first], pieces[first] if index == first
                          else "".join(pieces[first:index + 1])))
            index += 1
        return found


#: Where a comment, CDATA section or processing instruction begins, and what ends each
_CONSTRUCT = re.compile(r"<!--|<!\[CDATA\[|<\?")
_CONSTRUCT_END = {"<!--": "-->", "<![CDATA[": "]]>", "<?": "?>"}


def _unclosed(piece: str, start: int = 0) -> str | None:
    """What ends the comment, CDATA section or processing instruction that begins in
    ``piece`` after ``start`` and does not end in it; None when none does."""
    at = start
    while (found := _CONSTRUCT.search(piece, at)) is not None:
        end = _CONSTRUCT_END[found.group()]
        at = piece.find(end, found.end())
        if at < 0:
            return end
    return None


#: A place in a text: its offset, its 1-based line, and where the line feed before it is (-1
#: on the first line)
Place = tuple[int, int, int]


def _piece_lines_and_columns(piece: str, offsets: list[int], at: int, line: int, feed: int
                             ) -> tuple[list[int], list[int]]:
    """:meth:`Text.lines_and_columns` within one piece: ``offsets`` ascending, the first at
    or after ``at``, which is on ``line`` with its line feed at ``feed`` (all local to the
    piece; ``feed`` may be before it)."""
    previous = [at, *offsets[:-1]]
    # a line: the one before, plus the line feeds since the offset before
    lines = list(accumulate(map(piece.count, repeat("\n"), previous, offsets), initial=line))
    del lines[0]
    # the line feed before each offset, looked for back to the offset before only
    feeds = list(map(piece.rfind, repeat("\n"), previous, offsets))
    if -1 in feeds:
        # none since the offset before: the same line feed as it (those found ascend, so a
        # running maximum carries the last one found forward)
        feeds = list(accumulate(feeds, max))
        first_found = bisect.bisect_right(feeds, -1)  # before it, the feed is ``feed``
        feeds[:first_found] = repeat(feed, first_found)
    return lines, list(map(operator.sub, offsets, feeds))


# A start tag, or a construct whose content must be skipped when looking for start tags.
_MARKUP = re.compile(r"<!--.*?-->|<!\[CDATA\[.*?\]\]>|<\?.*?\?>|<([^\s/>!?=\"'][^\s/>=\"']*)",
                     re.S)


class Locator:
    """Line and column of elements and attributes (lxml only knows an element's last line).

    Start tags are found in the decoded text in document order, which is the order in which
    lxml iterates elements, so the n-th start tag belongs to the n-th element.
    """

    __slots__ = ("_attributes", "_counted", "_counted_characters", "_counted_lines",
                 "_line_starts", "_lines", "_matched", "_offsets", "_root", "_tags", "_text")

    def __init__(self, text: str | Text, root: etree._Element) -> None:
        text = self._text = text if isinstance(text, Text) else Text([text])
        #: where each line begins, and one int object per line number, shared by every
        #: Location on that line (memory): built when many single places are asked
        #: (:meth:`_position`), not for a section's rules (:meth:`first_attributes`; issue
        #: 17: 7 ms and 2 ms of a 100,000-rule load that asks for five places besides)
        self._line_starts: list[int] = []
        self._lines: list[int] = []
        #: the characters counted so far to place single offsets without the table
        self._counted_characters = 0
        self._counted_lines: dict[int, int] = {}
        self._tags = Offsets()
        for run in _start_tag_runs(text):
            self._tags.extend(run)
        self._root = root
        #: every element's start tag, mapped when many are asked for (None until then): a
        #: load that reads its rules in one pass asks for a few (issue 17)
        self._offsets: dict[etree._Element, int] | None = None
        #: the elements placed by counting so far (a walk of all before each: asked again,
        #: as a section's place is, it is not counted again)
        self._counted: dict[etree._Element, int | None] = {}
        #: whether the start tags found are the elements (counted once, when first asked)
        self._matched: bool | None = None
        #: each start tag's attribute offsets, read once for all its attributes
        self._attributes: dict[int, dict[str, int]] = {}

    def release(self) -> None:
        """Drop the tables a slice at a time (:func:`release`); the Locator locates nothing
        afterwards."""
        offsets, self._offsets = self._offsets or {}, None
        self._counted.clear()  # (at most _COUNTED_LOOKUPS entries)
        self._counted_lines.clear()  # (the lines of places within COUNTED_CHARACTERS)
        while offsets:  # the last entries first: each pop is O(1), and frees a proxy
            deque(starmap(offsets.popitem, repeat((), min(len(offsets), ELEMENT_SLICE))), 0)
        self._tags.release()
        pieces = self._text.pieces  # beside requests, 64 KiB each: freed one by one
        while len(pieces) > 1:  # (the first stays: a Text has one piece at least)
            pieces.pop()
        for table in (self._line_starts, self._lines):
            while table:
                del table[-ELEMENT_SLICE:]
        attributes = self._attributes  # one dict per start tag asked for: 100,000 at most
        while attributes:
            deque(starmap(attributes.popitem, repeat((), min(len(attributes), ELEMENT_SLICE))), 0)

    def _offset(self, element: etree._Element) -> int | None:
        """Where ``element``'s start tag begins: its place in document order, counted by
        libxml2 for the first few asked, then looked up in a map of every element."""
        offsets = self._offsets
        if offsets is None:
            counted = self._counted
            if element in counted:
                return counted[element]
            if len(counted) < _COUNTED_LOOKUPS:
                index = self._index(element)
                found = counted[element] = None if index is None else self._tags[index]
                return found
            offsets = self._offsets = self._offset_map()
        return offsets.get(element)

    def _offset_map(self) -> dict[etree._Element, int]:
        tags = self._tags
        offsets: dict[etree._Element, int] = {}
        elements = self._root.iter(etree.Element)
        mapped = 0
        # ELEMENT_SLICE elements a call (a reload reads beside requests: issue 17)
        while chunk := list(islice(elements, ELEMENT_SLICE)):
            offsets.update(zip(chunk, tags.span(mapped, mapped + len(chunk)), strict=False))
            mapped += len(chunk)  # (more elements than tags: told below)
        if mapped != len(tags) or len(offsets) != mapped:
            return {}  # the start tags found are not the elements: locate by line only
        return offsets

    def _index(self, element: etree._Element) -> int | None:
        """``element``'s place among the document's elements (None when the start tags found
        are not the elements)."""
        if self._matched is None:
            self._matched = int(_ELEMENT_COUNT(self._root)) == len(self._tags)
        return int(_ELEMENTS_BEFORE(element)) if self._matched else None

    def _position(self, offset: int) -> tuple[int, int]:
        """The line and column of ``offset``: counted in the text before it while what was
        counted so far stays under :data:`COUNTED_CHARACTERS` (a load asks for a few places
        near the top), else looked up in the table of line starts, built once."""
        starts = self._line_starts
        if not starts:
            counted = self._counted_characters + offset
            if counted <= COUNTED_CHARACTERS:
                self._counted_characters = counted
                line, column = self._text.line_and_column(offset)
                # (one int object per line number, as the table's: shared by the places on it)
                return self._counted_lines.setdefault(line, line), column
            starts = self._starts()
        line = bisect.bisect_right(starts, offset)
        return self._lines[line - 1], offset - starts[line - 1] + 1

    def _starts(self) -> list[int]:
        """The table of line starts (and of line numbers), built the first time it is
        needed."""
        if not self._line_starts:
            self._line_starts = _line_starts(self._text)
            self._lines = _numbers(len(self._line_starts))
        return self._line_starts

    def element(self, element: etree._Element) -> tuple[int | None, int | None]:
        offset = self._offset(element)
        if offset is None:
            return element.sourceline, None
        return self._position(offset)

    def attribute(self, element: etree._Element, attribute: str) -> tuple[int | None, int | None]:
        offset = self._offset(element)
        if offset is None:
            return element.sourceline, None
        first = self.first_attribute(element, offset, attribute)
        if first >= 0:
            return self._position(first)
        attributes = self._attributes.get(offset)
        if attributes is None:
            attributes = self._attributes[offset] = self._read_attributes(offset)
        return self._position(attributes.get(attribute, offset))

    def first_attributes(self, elements: list[etree._Element], attribute: str
                         ) -> tuple[list[int], list[int]] | None:
        """Lines and columns of ``attribute`` in each of ``elements``, all written
        ``<tag attribute=`` (one tag name) and given in document order; None unless they all
        are (ask :meth:`attribute`).  A whole section's rules at once, by C-level iterators
        (issue 17: 100,000 rules, no Python step per rule)."""
        if not elements:
            return [], []
        tag = elements[0].tag
        if not isinstance(tag, str) or "{" in tag or any(
                set(map(_TAG, elements[begin:begin + ELEMENT_SLICE])) != {tag}
                for begin in range(0, len(elements), ELEMENT_SLICE)):
            return None
        offsets = self._offsets_of(elements)
        if offsets is None:
            return None
        # Filled in place: two lists of 100,000 grown a slice at a time were copied whole by
        # their reallocations, 2.4 ms with the GIL held (issue 17, gil_holds.py --trace).
        lines = [0] * len(offsets)
        columns = [0] * len(offsets)
        known: Place = (0, 1, -1)
        prefix = f" {attribute}="
        for begin in range(0, len(offsets), ELEMENT_SLICE):  # issue 17, as in _offset_map
            # the space before the attribute's name, then the name: "<tag name="
            spaces = list(map(operator.add, offsets[begin:begin + ELEMENT_SLICE],
                              repeat(len(tag) + 1)))
            # each is placed from the one before: in document order only (a section's
            # children are; out of order, None: ask attribute), checked by one sort of an
            # ordered list (a linear pass in C)
            if spaces[0] < known[0] or spaces != sorted(spaces) \
                    or not self._text.all_start_with(prefix, spaces):
                return None
            step_lines, step_columns, known = self._text.lines_and_columns(
                list(map(operator.add, spaces, repeat(1))), known)
            lines[begin:begin + ELEMENT_SLICE] = step_lines
            columns[begin:begin + ELEMENT_SLICE] = step_columns
        return lines, columns

    def _offsets_of(self, elements: list[etree._Element]) -> list[int] | None:
        """The start tags of ``elements`` (in document order), or None when one is unknown.
        Consecutive sibling elements (a section's rules) are counted from the first when they
        have no children, or beside requests: the map of every element is not needed."""
        if self._offsets is None:
            if not any(any(map(len, elements[begin:begin + ELEMENT_SLICE]))
                       for begin in range(0, len(elements), ELEMENT_SLICE)):
                first, last = self._index(elements[0]), self._index(elements[-1])
                if first is not None and last == first + len(elements) - 1:
                    return self._tags.span(first, last + 1)  # no children: one tag each
            elif _reading_beside_requests():  # (elsewhere the map is quicker: no XPath count)
                counted = self._siblings_offsets(elements)
                if counted is not None:
                    return counted
            self._offsets = self._offset_map()
        found: list[int] = []
        try:
            for begin in range(0, len(elements), ELEMENT_SLICE):  # issue 17, as above
                found += map(self._offsets.__getitem__, elements[begin:begin + ELEMENT_SLICE])
        except KeyError:
            return None
        return found

    def _siblings_offsets(self, elements: list[etree._Element]) -> list[int] | None:
        """:meth:`_offsets_of` for sibling ``elements`` with children: each one's place is the
        previous one's plus the elements of its subtree, counted a slice at a time (issue 17:
        no dict of every element, whose growth to 500,000 entries for 100,000 rules held the
        GIL 18-30 ms a resize beside requests); None unless they are consecutive siblings:
        each the next one's previous node, or (comments between them) all of one parent, the
        last one where libxml2 counts it."""
        first = self._index(elements[0])
        if first is None:
            return None
        places, adjacent = [first], True
        for begin in range(0, len(elements), ELEMENT_SLICE):
            step = elements[begin:begin + ELEMENT_SLICE]
            adjacent = adjacent and all(map(operator.is_, map(_NEXT, step),
                                            elements[begin + 1:begin + ELEMENT_SLICE + 1]))
            sizes = [1] * len(step)  # an element without children is its whole subtree
            for index in compress(count(), map(len, step)):  # (asked of those with: cheaper)
                sizes[index] = len(list(_SUBTREE(step[index])))
            places += accumulate(sizes, initial=places[-1])
            places.pop(-len(step) - 1)  # (each step's initial value, the previous one's end)
        places.pop()  # the end of the last one's subtree
        if places[-1] >= len(self._tags) or not (adjacent or self._siblings_at(elements,
                                                                               places[-1])):
            return None
        tags = self._tags
        found: list[int] = []
        for begin in range(0, len(places), ELEMENT_SLICE):
            found += tags.at(places[begin:begin + ELEMENT_SLICE])
        return found

    def _siblings_at(self, elements: list[etree._Element], last: int) -> bool:
        """Whether ``elements`` (in document order) have one parent and the last one is the
        ``last``-th element: then no element of their parent is missing between them (a
        nested one would be counted twice, a missing one not at all, and only one parent's
        children are here)."""
        parent = elements[0].getparent()
        return parent is not None and all(
            set(map(_PARENT, elements[begin:begin + ELEMENT_SLICE])) == {parent}
            for begin in range(0, len(elements), ELEMENT_SLICE)
        ) and self._index(elements[-1]) == last

    def first_attribute_at(self, element: etree._Element, attribute: str
                           ) -> tuple[int, int] | None:
        """Line and column of ``attribute`` when it is written first, as
        :meth:`first_attribute` tells; None otherwise (ask :meth:`attribute`)."""
        offset = self._offset(element)
        if offset is None:
            return None
        at = self.first_attribute(element, offset, attribute)
        if at < 0:
            return None
        return self._position(at)

    def first_attribute(self, element: etree._Element, offset: int, attribute: str) -> int:
        """Where ``attribute`` is written when it is the first one of the start tag at
        ``offset``, written ``<tag name=``; else -1.  What :meth:`_read_attributes` finds in
        that case, told by one comparison: most located attributes are a rule's ``origin``,
        written first (issue 17: a 100,000-rule file is located on every load)."""
        tag = element.tag
        if not isinstance(tag, str) or "{" in tag:
            return -1  # a namespaced name is written with a prefix, or none
        at = offset + len(tag) + 1
        return at + 1 if self._text.all_start_with(f" {attribute}=", [at]) else -1

    def line_and_column(self, offset: int) -> tuple[int, int]:
        """The 1-based line and column of ``offset`` in the decoded text."""
        return self._position(offset)

    def offset_of(self, element: etree._Element) -> int | None:
        """Where ``element``'s start tag begins in the decoded text (None when unknown)."""
        return self._offset(element)

    def _read_attributes(self, offset: int) -> dict[str, int]:
        """Where each attribute of the start tag at ``offset`` is written (the first, if one is
        written twice)."""
        # A start tag holds no "<": it is in one piece of the text.
        base, piece = self._text.piece_at(offset)
        tag = _START_TAG.match(piece, offset - base)
        end = tag.end() if tag is not None else len(piece)
        found: dict[str, int] = {}
        # Attributes one by one, so a name inside a quoted value is never taken for one.
        for match in _ATTRIBUTE.finditer(piece, offset - base, end):
            found.setdefault(match.group(1), base + match.start(1))
        return found


def _start_tag_runs(text: str | Text) -> Iterator[list[int]]:
    """:func:`_piece_start_tag_runs` of each piece of ``text`` (whole constructs)."""
    whole = text if isinstance(text, Text) else Text([text])
    for base, piece in whole.whole_constructs():
        yield from _piece_start_tag_runs(piece, base)


def _piece_start_tag_runs(text: str, base: int = 0) -> Iterator[list[int]]:
    """Where each start tag begins, in document order, a run of them at a time (no list of
    every start tag grows or is copied in one call: 500,000 of them for 100,000 rules, 4 MB
    copied at a time, 6-15 ms with the GIL held beside a reload's requests; issue 17).
    Without comments, CDATA sections and processing instructions (the XML declaration aside),
    every "<" not followed by "/" begins one (attribute values and text cannot hold a raw
    "<"): found by C-level iterators, without a Python step per tag (issue 17).  Else
    :data:`_MARKUP` skips what those constructs hold."""
    declaration = base == 0 and text.startswith("<?")  # (elsewhere, a "<?" is no declaration)
    if find_sliced(text, "<!") >= 0 or find_sliced(text, "<?", 1 if declaration else 0) >= 0:
        tags = (base + m.start() for m in _MARKUP.finditer(text) if m.group(1))
        while run := list(islice(tags, ELEMENT_SLICE)):
            yield run
        return
    size, begin = len(text), 0
    while begin < size:
        # TEXT_SLICE characters a call (issue 17: the whole 17 MB text in one chain held the
        # GIL 220 ms beside a reload's requests), each slice cut before a "<"
        end = text.find("<", begin + TEXT_SLICE)
        end = size if end < 0 else end
        # End tags' "<" hidden (same length, and the text holds no NUL: parse_bytes refused
        # it), the n-th "<" is at the length of the pieces before it plus the n-1 "<" among
        # them.
        pieces = text[begin:end].replace("</", "\x00/").split("<")
        run = list(map(operator.add, accumulate(map(len, pieces)), count(base + begin)))
        run.pop()  # the end of the slice
        if declaration and begin == 0:
            del run[0]  # the XML declaration's "<"
        yield run
        begin = end


def find_sliced(text: str, sub: str, start: int = 0) -> int:
    """``text.find(sub, start)``, :data:`TEXT_SLICE` characters a call (issue 17)."""
    size = len(text)
    while start < size:
        end = start + TEXT_SLICE
        found = text.find(sub, start, end + len(sub) - 1)  # a match across the cut counts
        if found >= 0:
            return found
        start = end
    return -1


def _line_starts(text: str | Text) -> list[int]:
    """Where each line begins: line n+1 after the n first lines and their n line feeds, read
    TEXT_SLICE characters a call (issue 17), each slice cut after a line feed, piece by
    piece of the text."""
    starts = [0]
    whole = text if isinstance(text, Text) else Text([text])
    for base, piece in zip(whole.bases, whole.pieces, strict=True):
        size, begin = len(piece), 0
        while begin < size:
            end = piece.find("\n", begin + TEXT_SLICE)
            end = size if end < 0 else end + 1
            starts += map(operator.add, accumulate(map(len, piece[begin:end].split("\n"))),
                          count(base + begin + 1))
            starts.pop()  # the end of the slice, plus one
            begin = end
    return starts


class Offsets:
    """A long list of ints (where each start tag begins) kept in blocks of
    :data:`OFFSETS_BLOCK`: a list of 500,000 (a 100,000-rule file) grew by reallocations that
    copied up to 4 MB at a time, and was copied whole, each a C call holding the GIL for
    6-15 ms beside a reload's requests (issue 17, tools/gil_holds.py --trace).  Read with
    :meth:`span` and :meth:`at`, C-level as a list's slices and ``map(list.__getitem__)``."""

    __slots__ = ("_blocks", "_size", "_width")

    def __init__(self, width: int | None = None) -> None:
        self._blocks: list[list[int]] = []
        self._size = 0
        self._width = OFFSETS_BLOCK if width is None else width

    def extend(self, values: list[int]) -> None:
        blocks, width, taken = self._blocks, self._width, 0
        while taken < len(values):
            if not blocks or len(blocks[-1]) == width:
                blocks.append([])
            last = blocks[-1]
            room = width - len(last)
            last += values[taken:taken + room]
            taken += room
        self._size += len(values)

    def __len__(self) -> int:
        return self._size

    def __getitem__(self, index: int) -> int:
        if not 0 <= index < self._size:
            raise IndexError(index)
        block, at = divmod(index, self._width)
        return self._blocks[block][at]

    def span(self, start: int, stop: int) -> list[int]:
        """``list(self)[start:stop]``, for ``0 <= start``."""
        found: list[int] = []
        stop = min(stop, self._size)
        while start < stop:
            block, at = divmod(start, self._width)
            taken = self._blocks[block][at:at + stop - start]
            found += taken
            start += len(taken)
        return found

    def at(self, indices: list[int]) -> list[int]:
        """``[self[i] for i in indices]``, by C-level iterators (indices in range)."""
        width = repeat(self._width)
        return list(map(operator.getitem,
                        map(self._blocks.__getitem__, map(operator.floordiv, indices, width)),
                        map(operator.mod, indices, width)))

    def release(self) -> None:
        """Empty it, a block at a time."""
        self._size = 0
        while self._blocks:
            self._blocks.pop()

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Offsets):
            other = other.span(0, len(other))
        return isinstance(other, list) and self.span(0, self._size) == other

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Offsets({self.span(0, self._size)!r})"


def _numbers(last: int) -> list[int]:
    """``list(range(1, last + 1))``, TEXT_SLICE numbers a call (100,000 new ints at once held
    the GIL 1.6 ms; issue 17)."""
    numbers: list[int] = []
    for first in range(1, last + 1, TEXT_SLICE):
        numbers += range(first, min(first + TEXT_SLICE, last + 1))
    return numbers


_TAG = operator.attrgetter("tag")
_PARENT = operator.methodcaller("getparent")
_NEXT = operator.methodcaller("getnext")
#: An element's subtree, itself first, elements only (what the start tags count)
_SUBTREE = operator.methodcaller("iter", etree.Element)
#: How many single elements the Locator places by counting before it maps them all
_COUNTED_LOOKUPS = 32
_ELEMENT_COUNT = etree.XPath("count(//*)")
_ELEMENTS_BEFORE = etree.XPath("count(preceding::*) + count(ancestor::*)")

#: A start tag from its "<" to its ">", quoted values skipped (they may hold ">").
_START_TAG = re.compile(r"""<(?:[^>"']+|"[^"]*"|'[^']*')*>?""")


#: One attribute of a start tag: its name, then its quoted value.
_ATTRIBUTE = re.compile(r"""\s([^\s=/>]+)\s*=\s*(?:"[^"]*"|'[^']*')""")
