"""Beside requests, a large file's text is decoded a slice at a time into pieces, each cut
before a "<", and the rest of the loader reads it piece by piece (issue 17: decoding a 17 MB
file in one call held the GIL 7-13 ms during a hot reload; tools/gil_holds.py --trace).  Here,
that the pieces change nothing: the same text whatever the encoding and wherever a cut falls
(inside a multi-byte character too), and the same diagnostics and places for every known file
and hostile one.  Long lists kept in blocks, and the one-pass reader's per-rule lists emptied
in steps, are counted here as well.  Nothing is timed."""

from __future__ import annotations

import codecs
import sys
from pathlib import Path

import pytest

import iiscors.config.fastcors as fastcors_module
import iiscors.config.loader as loader_module
from iiscors import load_config
from iiscors.config.loader import Offsets, Text, decoded, parse_bytes

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus" / "webconfigs"
SAMPLES = Path(__file__).resolve().parents[2] / "sample_configs"
TOOLS = Path(__file__).resolve().parents[2] / "tools"
if str(TOOLS) not in sys.path:
    sys.path.insert(0, str(TOOLS))

from loadtesting.reload_run import version_config  # noqa: E402

from support import located_places as places  # noqa: E402

BODY = ('<configuration>\n<!-- caf\u00e9 \u20ac \U0001d11e < not a tag -->\n<system.webServer>'
        '<cors enabled="true"><add origin="https://\u00e9t\u00e9.example" />\n'
        '<add origin="https://b.example"/></cors></system.webServer></configuration>\n')

#: (the file's bytes, the encoding the loader decides for them)
ENCODED = [
    (BODY.encode("utf-8"), "utf-8"),
    (codecs.BOM_UTF8 + BODY.encode("utf-8"), "utf-8"),
    (codecs.BOM_UTF16_LE + BODY.encode("utf-16-le"), "utf-16-le"),
    (codecs.BOM_UTF16_BE + BODY.encode("utf-16-be"), "utf-16-be"),
    (b'<?xml version="1.0" encoding="windows-1252"?>\n' + BODY.replace(
        "\U0001d11e", "").encode("cp1252") + b"<!-- \x80\x81\x9f -->", "cp1252"),
    (b'<?xml version="1.0" encoding="iso-8859-1"?>\n' + BODY.replace(
        "\U0001d11e", "").replace("\u20ac", "").encode("latin-1"), "iso8859-1"),
    # invalid bytes: a lone continuation, a truncated sequence before ASCII, a cut one at the end
    (b"<a>\x80</a><b>\xe2\x82A\xff</b>" + BODY.encode("utf-8") + b"\xf0\x9d\x84", "utf-8"),
    # several byte order marks as characters, all dropped as lstrip drops them
    ("\ufeff\ufeff\ufeff<a/>".encode("utf-8"), "utf-8"),
    (codecs.BOM_UTF16_LE + "\ufeff<a>\U0001d11e</a>".encode("utf-16-le") + b"\x00", "utf-16-le"),
    (b"", "utf-8"),
]


@pytest.fixture
def in_pieces(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every file decoded into pieces (READ_IN_PIECES 0), as beside a reload's requests."""
    monkeypatch.setattr(loader_module, "READ_IN_PIECES", 0)
    monkeypatch.setattr(loader_module._SLICED, "on", True, raising=False)


@pytest.mark.parametrize("size", [1, 2, 3, 5, 8, 64])
@pytest.mark.parametrize(("data", "encoding"), ENCODED,
                         ids=[f"{i}-{e}" for i, (_, e) in enumerate(ENCODED)])
def test_pieces_are_the_whole_text_at_every_cut(
        data: bytes, encoding: str, size: int, in_pieces: None,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Cut every ``size`` bytes, inside multi-byte characters and surrogate pairs too: the
    incremental decoder holds a split character for the next slice (a plain decode of each
    slice would replace both halves, and shift every later offset)."""
    monkeypatch.setattr(loader_module, "TEXT_SLICE", size)
    text = decoded(data, encoding)
    whole = data.decode(encoding, errors="replace").lstrip("\ufeff")
    assert "".join(text.pieces) == whole and text.size == len(whole)
    assert all(piece.startswith("<") for piece in text.pieces[1:])
    assert all(text.pieces) or text.pieces == [""]
    if len(data) > 4 * size and "<" in whole[size:]:
        assert len(text.pieces) > 1  # read in pieces indeed
    for offset in range(len(whole) + 1):
        assert text.line_and_column(offset) == (whole.count("\n", 0, offset) + 1,
                                                offset - whole.rfind("\n", 0, offset))
    for sub in ["<!", "<?", "\x00", "-->", "<add", "\n"]:
        for start in range(0, len(whole) + 2, 3):
            assert text.find(sub, start) == whole.find(sub, start), (sub, start)


def test_one_piece_elsewhere_than_beside_requests(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(loader_module, "READ_IN_PIECES", 0)
    monkeypatch.setattr(loader_module, "TEXT_SLICE", 4)
    assert len(decoded(BODY.encode(), "utf-8").pieces) == 1
    with loader_module.beside_requests():
        assert len(decoded(BODY.encode(), "utf-8").pieces) > 1
        monkeypatch.setattr(loader_module, "READ_IN_PIECES", len(BODY.encode()) + 1)
        assert len(decoded(BODY.encode(), "utf-8").pieces) == 1  # a small file: at once


HOSTILE = {
    "nul late": b"<configuration>\n<system.webServer>\n  <cors>\x00</cors>\n"
                b"</system.webServer></configuration>",
    "doctype late": b"<?xml version='1.0'?>\n<!-- a -->\n<!DOCTYPE x [<!ENTITY e 'x'>]>\n<x/>",
    "doctype in a long comment": b"<x>\n<!-- <" + b"y" * 40 + b" <!DOCTYPE x> -->\n</x>",
    "doctype after a long comment": b"<x>\n<!-- " + b"<y/>" * 20 + b" -->\n<!DOCTYPE x>",
    "doctype in cdata": b"<x><![CDATA[ <a> <!DOCTYPE x> ]]></x>",
    "unclosed comment": b"<x>\n<!-- <a> <!DOCTYPE x>",
    "malformed": b"<configuration>\n<system.webServer>\n<cors><add origin='a'></cors>",
    "utf-16 nul": codecs.BOM_UTF16_LE + "<x>\n\u00e9<y/>\x00</x>".encode("utf-16-le"),
    "comments and instructions": (
        b"<?xml version='1.0'?>\n<configuration><?pi <a> ?>\n<system.webServer>"
        b"<!-- <cors enabled='false'/> -->\n<cors enabled='true'><![CDATA[<z>]]></cors>"
        b"</system.webServer></configuration>"),
    "commented-out rules": (
        b"<configuration><system.webServer><cors enabled='true'>\n"
        + b"".join(b"<!-- <add origin='https://old%d.x'/> -->\n<add origin='https://a%d.x'/>\n"
                   % (i, i) for i in range(12)) + b"</cors></system.webServer></configuration>"),
    "attributes over lines": (
        b"<configuration><system.webServer><cors enabled='true'>\n<add\n origin='https://a.x'"
        b"\n allowed='maybe'/><add origin='https://a.x' maxAge='x'/></cors>"
        b"</system.webServer></configuration>"),
}


def known_files(tmp_path: Path) -> list[Path]:
    found = sorted([*CORPUS.glob("*.config"), *SAMPLES.rglob("*.config")])
    made = {"realistic": version_config(60, "v1"), **HOSTILE}
    for index, (name, data) in enumerate(made.items()):
        path = tmp_path / f"{index}-{name.replace(' ', '-')}.config"
        path.write_bytes(data)
        found.append(path)
    return found


@pytest.mark.parametrize("size", [3, 16, 200])
def test_every_known_and_hostile_file_says_the_same_read_in_pieces(
        size: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every diagnostic (E102 NUL, E103 DOCTYPE, E104, each line and column) and every rule's
    place, read whole and read in pieces of a few characters."""
    paths = known_files(tmp_path)
    assert len(paths) > 30
    whole = [places(path) for path in paths]
    monkeypatch.setattr(loader_module, "READ_IN_PIECES", 0)
    monkeypatch.setattr(loader_module, "TEXT_SLICE", size)
    made: list[int] = []
    real = Text.__init__

    def counted(self: Text, pieces: list[str]) -> None:
        made.append(len(pieces))
        real(self, pieces)

    monkeypatch.setattr(Text, "__init__", counted)
    with loader_module.beside_requests():
        assert [places(path) for path in paths] == whole
    assert max(made) > 10  # the text was read in pieces


def test_a_construct_across_a_cut_is_searched_joined(monkeypatch: pytest.MonkeyPatch) -> None:
    """A comment holding a "<" (a commented-out rule) can span pieces: the DOCTYPE and
    start-tag searches then read those pieces joined, never a piece that begins inside a
    comment; the other pieces stay apart."""
    monkeypatch.setattr(loader_module, "TEXT_SLICE", 8)
    text = Text(["<x><!-- <", "<a/> -->", "<b/></x>"])
    assert text.whole_constructs() == [(0, "<x><!-- <<a/> -->"), (17, "<b/></x>")]
    assert list(loader_module._start_tag_runs(text)) == [[0], [17]]
    # a second construct opened after the first one's end, in the joined piece
    text = Text(["<x><!-- <", "<a/> --><?p <", "<c/> ?>", "<b/>", "<!-- <", "<d/>"])
    assert text.whole_constructs() == [(0, "<x><!-- <<a/> --><?p <<c/> ?>"), (29, "<b/>"),
                                       (33, "<!-- <<d/>")]
    apart = Text(["<x><!-- a -->", "<b/>", "<?p <c/> ?></x>"])
    assert apart.whole_constructs() == [(0, "<x><!-- a -->"), (13, "<b/>"),
                                        (17, "<?p <c/> ?></x>")]
    assert list(loader_module._start_tag_runs(apart)) == [[0], [13]]
    assert loader_module._doctype_at(Text(["<x><!-- <", "<!DOCTYPE y> -->", "</x>"])) == -1
    assert loader_module._doctype_at(Text(["<x><!-- -->", "<!DOCTYPE y>", "</x>"])) == 11


def test_a_chain_of_constructs_across_every_cut_is_read_once(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Comments that each go on past a cut, one after another (each piece ends one and begins
    the next): the constructs are one joined run, and each piece is scanned for constructs
    once, not the run joined so far again at every cut (the square of the file's length)."""
    pieces = ["<x><!-- a", *(f"<b{n}/> --><!-- c{n}" for n in range(50)), "<y/> --></x>"]
    text = Text(pieces)
    scanned: list[int] = []
    real = loader_module._unclosed

    def counting(piece: str, start: int = 0) -> str | None:
        scanned.append(len(piece))
        return real(piece, start)

    monkeypatch.setattr(loader_module, "_unclosed", counting)
    assert text.whole_constructs() == [(0, "".join(pieces))]
    assert sum(scanned) <= 2 * text.size
    assert Text(["".join(pieces)]).whole_constructs() == [(0, "".join(pieces))]


def test_offsets_are_a_list_in_blocks() -> None:
    values = list(range(0, 300, 3))
    offsets = Offsets(width=7)
    for begin in range(0, len(values), 11):
        offsets.extend(values[begin:begin + 11])
    assert len(offsets) == len(values) and offsets == values
    assert all(len(block) <= 7 for block in offsets._blocks)
    assert [offsets[i] for i in range(len(values))] == values
    for start in range(0, 105, 4):
        for stop in range(start, 106, 5):
            assert offsets.span(start, stop) == values[start:stop]
    picked = [0, 6, 7, 8, 50, 99]
    assert offsets.at(picked) == [values[i] for i in picked]
    with pytest.raises(IndexError):
        offsets[len(values)]
    offsets.release()
    assert offsets == [] and len(offsets) == 0 and offsets._blocks == []


def test_the_locator_keeps_start_tags_in_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    """No list of every start tag (500,000 for 100,000 rules) is grown or copied whole."""
    monkeypatch.setattr(loader_module, "OFFSETS_BLOCK", 5)
    monkeypatch.setattr(loader_module, "TEXT_SLICE", 40)
    data = version_config(20, "v1")
    document, _ = parse_bytes(data, "w.config")
    assert document is not None
    tags = document.locator._tags
    assert isinstance(tags, Offsets) and len(tags._blocks) > 10
    assert all(len(block) <= 5 for block in tags._blocks)
    text = data.decode()
    assert tags == [m.start() for m in loader_module._MARKUP.finditer(text) if m.group(1)]
    runs = list(loader_module._start_tag_runs(text))
    assert len(runs) > 10 and all(len(run) <= 40 for run in runs)
    assert loader_module._numbers(97) == list(range(1, 98))


def test_the_one_pass_reader_drops_its_element_proxies_a_step_at_a_time(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The list holding a proxy for every rule (100,000) is emptied a step at a time: dropped
    at once, its last reference freed them all in one cascade."""
    monkeypatch.setattr(fastcors_module, "TABLE_STEP", 4)
    deleted: list[int] = []

    class Recorded(list):  # type: ignore[type-arg]
        def __delitem__(self, index: object) -> None:
            before = len(self)
            super().__delitem__(index)  # type: ignore[arg-type]
            deleted.append(before - len(self))

    lists: list[Recorded] = []
    real = fastcors_module._children

    def recorded(cors: object) -> Recorded:
        lists.append(Recorded(real(cors)))  # type: ignore[arg-type]
        return lists[-1]

    monkeypatch.setattr(fastcors_module, "_children", recorded)
    config = load_config(version_config(30, "v1"))
    assert len(config.scopes[()].rules) == 30
    assert lists and all(found == [] for found in lists)
    assert sum(deleted) == 30 and max(deleted) <= 4


def test_release_frees_the_pieces_one_by_one(monkeypatch: pytest.MonkeyPatch) -> None:
    """Beside requests, the released document's text goes a piece at a time (265 pieces of
    64 KiB for a 17 MB file, freed in one cascade by the last reference otherwise)."""
    monkeypatch.setattr(loader_module, "READ_IN_PIECES", 0)
    monkeypatch.setattr(loader_module, "RELEASED_IN_SLICES", 10)
    monkeypatch.setattr(loader_module, "TEXT_SLICE", 50)
    with loader_module.beside_requests():
        document, _ = parse_bytes(version_config(20, "v1"), "w.config")
        assert document is not None
        pieces = document.locator._text.pieces
        assert len(pieces) > 10
        popped: list[int] = []

        class Recorded(list):  # type: ignore[type-arg]
            def pop(self, index: int = -1) -> str:
                popped.append(len(self))
                return str(super().pop(index))

        document.locator._text.pieces = Recorded(pieces)
        loader_module.release(document)
        assert len(document.locator._text.pieces) == 1
        assert popped == list(range(len(pieces), 1, -1))


def test_a_file_is_read_with_a_limit_of_its_size_plus_one(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The reader allocates its limit first: a file is read with its own size plus one as the
    limit when that is less than max_bytes + 1, and again with max_bytes + 1 if it grew after
    its stat (one byte past the limit still tells a file too large)."""
    limits: list[int] = []
    real = loader_module.read_regular_file

    def recorded(path: str, limit: int) -> bytes:
        limits.append(limit)
        return real(path, limit)

    monkeypatch.setattr(loader_module, "read_regular_file", recorded)
    path = tmp_path / "web.config"
    path.write_bytes(b"<configuration/>")
    data, _, found = loader_module.read_source(path, max_bytes=1000)
    assert data == b"<configuration/>" and found == [] and limits == [17]
    limits.clear()
    data, _, found = loader_module.read_source(path, max_bytes=10)
    assert data is None and [d.code for d in found] == ["E101"] and limits == [11]
    limits.clear()
    grown = b"<configuration>" + b" " * 100 + b"</configuration>"
    stat = loader_module.os.stat

    def grows(target: object) -> object:  # the stat sees the file before it grows
        result = stat(target)  # type: ignore[arg-type]
        path.write_bytes(grown)
        return result

    monkeypatch.setattr(loader_module.os, "stat", grows)
    data, _, found = loader_module.read_source(path, max_bytes=1000)
    assert data == grown and limits == [17, 1001]
    limits.clear()
    monkeypatch.setattr(loader_module.os, "stat", stat)
    data, _, found = loader_module.read_source(tmp_path / "missing", max_bytes=1000)
    assert data is None and [d.code for d in found] == ["E100"] and limits == [1001]
