"""The Locator reads a document's text and elements in slices (issue 17: a hot reload runs the
loader beside requests, and one C call over a whole 17 MB file held the GIL for up to 220 ms;
tools/gil_holds.py measures that).  Here, that the slices change nothing: with slices of a few
characters and elements, every place found at every cut is the one a single pass finds."""

from __future__ import annotations

import random
import sys
from pathlib import Path

import pytest
from lxml import etree

import iiscors.config.fastcors as fastcors_module
import iiscors.config.loader as loader_module
import iiscors.policy.model as model_module
from iiscors.config.loader import Locator, parse_bytes

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus" / "webconfigs"
SAMPLES = Path(__file__).resolve().parents[2] / "sample_configs"
TOOLS = Path(__file__).resolve().parents[2] / "tools"
if str(TOOLS) not in sys.path:
    sys.path.insert(0, str(TOOLS))

from loadtesting.reload_run import version_config  # noqa: E402

from support import located_places as places  # noqa: E402
from support import start_tags  # noqa: E402


def single_pass_line_starts(text: str) -> list[int]:
    return [0, *(i + 1 for i, c in enumerate(text) if c == "\n")]


def single_pass_start_tags(text: str) -> list[int]:
    return [m.start() for m in loader_module._MARKUP.finditer(text) if m.group(1)]


def random_text(rng: random.Random) -> str:
    pieces = ["<a>", "</a>", "<b x='1'/>", "\n", "text", "<?xml version='1.0'?>", "\n\n",
              "<c\ny='2'>", "</c>", " ", "é"]
    return "".join(rng.choice(pieces) for _ in range(rng.randrange(0, 60)))


@pytest.mark.parametrize("size", [1, 2, 3, 7, 64])
def test_line_starts_and_start_tags_are_the_same_at_every_cut(
        size: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(loader_module, "TEXT_SLICE", size)
    rng = random.Random(size)
    texts = [random_text(rng) for _ in range(400)]
    texts += ["", "\n", "<a/>", "<?xml version='1.0'?><a></a>", "<a>\n</a>\n"]
    for text in texts:
        assert loader_module._line_starts(text) == single_pass_line_starts(text), text
        if "<?" not in text[1:]:
            assert start_tags(text) == single_pass_start_tags(text), text


def files(tmp_path: Path) -> list[Path]:
    found = sorted([*CORPUS.glob("*.config"), *SAMPLES.rglob("*.config")])
    realistic = tmp_path / "realistic.config"
    realistic.write_bytes(version_config(300, "v1"))
    bare = tmp_path / "bare.config"
    bare.write_bytes(("<configuration><system.webServer><cors enabled='true'>\n" + "".join(
        f'<add origin="https://a{i}.example.com"/>\n' for i in range(300))
        + "</cors></system.webServer></configuration>").encode())
    return [*found, realistic, bare]


@pytest.mark.parametrize("steps", [
    ((loader_module, "TEXT_SLICE", 5), (loader_module, "ELEMENT_SLICE", 2)),
    ((model_module, "TABLE_STEP", 3), (fastcors_module, "TABLE_STEP", 3)),
], ids=["the Locator's slices", "the one-pass reader's and the rule table's steps"])
def test_every_known_file_is_read_the_same_in_small_steps(
        steps: tuple[tuple[object, str, int], ...], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    paths = files(tmp_path)
    assert len(paths) > 20
    whole = [places(path) for path in paths]
    for module, name, size in steps:
        monkeypatch.setattr(module, name, size)
    assert [places(path) for path in paths] == whole


def test_the_element_map_is_built_slice_by_slice_and_refused_when_tags_mismatch(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(loader_module, "ELEMENT_SLICE", 2)
    document, _ = parse_bytes(b"<a><b/><c><d/></c><e/></a>", "x.config")
    assert document is not None
    offsets = document.locator._offset_map()
    assert sorted(offsets.values()) == [0, 3, 7, 10, 18]
    assert offsets[document.root[1][0]] == 10
    # a start tag more than the elements (one the counting took for a tag): no map at all
    mismatched = Locator("<a><b/><c><d/></c><e/><f/></a>", document.root)
    assert mismatched._offset_map() == {}


@pytest.mark.parametrize("size", [1, 2, 3, 5])
def test_find_sliced_finds_what_find_finds_across_every_cut(
        size: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(loader_module, "TEXT_SLICE", size)
    for text in ["", "<", "<!", "a<!", "ab<!", "abc<!--", "<a><?x?><b/>", "x" * 9 + "<?"]:
        for sub in ["<!", "<?", "<!--"]:
            for start in range(3):
                assert loader_module.find_sliced(text, sub, start) == text.find(sub, start), \
                    (text, sub, start)


def test_beside_requests_a_large_document_is_released_in_slices_same_places(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    paths = files(tmp_path)
    whole = [places(path) for path in paths]
    monkeypatch.setattr(loader_module, "ELEMENT_SLICE", 3)
    monkeypatch.setattr(loader_module, "RELEASED_IN_SLICES", 10)
    released: list[int] = []
    real = loader_module.Locator.release

    def counted(self: Locator) -> None:
        released.append(len(self._tags))
        real(self)

    monkeypatch.setattr(loader_module.Locator, "release", counted)
    with loader_module.beside_requests():
        assert [places(path) for path in paths] == whole
    assert len(released) >= len(paths)  # every document read was released in slices
    released.clear()
    assert [places(path) for path in paths] == whole
    assert released == []  # not elsewhere: dropped at once, the quicker way


def test_release_empties_a_large_tree_only_beside_requests(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(loader_module, "ELEMENT_SLICE", 2)
    monkeypatch.setattr(loader_module, "RELEASED_IN_SLICES", 10)
    data = b"<c><s><cors>" + b"<add origin='x'><m/></add>" * 7 + b"</cors><h/></s></c>"
    document, _ = parse_bytes(data, "x.config")
    assert document is not None
    loader_module.release(document)
    assert len(document.root[0][0]) == 7  # not beside requests: left to the last reference
    with loader_module.beside_requests():
        loader_module.release(document)
    assert len(document.root[0][0]) == 0 and document.root[0][1].tag == "h"
    assert document.locator._tags == [] and document.locator._offsets is None


def test_release_has_the_freed_blocks_sorted_out_a_slice_of_rules_at_a_time(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """glibc merges the small blocks a released tree gave back all at once at the next large
    allocation (90-120 ms with the GIL held after 100,000 rules): release asks for that merge
    after every FREED_SLICE children it removes, and once at its end (issue 17)."""
    monkeypatch.setattr(loader_module, "ELEMENT_SLICE", 2)
    monkeypatch.setattr(loader_module, "RELEASED_IN_SLICES", 10)
    monkeypatch.setattr(loader_module, "FREED_SLICE", 3)
    sorted_after: list[int] = []
    data = b"<c><s><cors>" + b"<add origin='x'><m/></add>" * 10 + b"</cors></s></c>"
    document, _ = parse_bytes(data, "x.config")
    assert document is not None
    cors = document.root[0][0]
    monkeypatch.setattr(loader_module, "sort_freed_blocks",
                        lambda: sorted_after.append(len(cors)))
    loader_module.release(document)
    assert sorted_after == []  # not beside requests: nothing released, nothing to sort
    document.locator._attributes.update({1: {"a": 2}, 3: {"b": 4}, 5: {}})
    with loader_module.beside_requests():
        loader_module.release(document)
    assert sorted_after == [7, 4, 1, 0]  # 3, 6 and 9 children removed, then the end
    assert document.locator._attributes == {}
    loader_module.sort_freed_blocks()  # (the real one: an allocation, whatever the allocator)


def test_sorting_block_is_served_from_the_heap_by_glibc() -> None:
    """The block sort_freed_blocks asks for is past glibc's per-thread cache (1,032 bytes) and
    under its least mmap threshold (128 KiB), where malloc sorts the fast bins first."""
    assert 1032 < loader_module.SORTING_BLOCK < 128 * 1024


@pytest.mark.parametrize("between", [b"", b"<!-- c -->"], ids=["adjacent", "comments"])
def test_sibling_rules_with_children_are_placed_by_counting_without_the_map(
        monkeypatch: pytest.MonkeyPatch, between: bytes) -> None:
    """Beside requests, a section's rules with lists are placed from the first by their
    subtrees' sizes, a slice at a time: no map of every element (issue 17: its dict of
    500,000 entries held the GIL 18-30 ms a resize during a hot reload).  Elsewhere the map,
    which needs no XPath count of the whole document, is quicker."""
    monkeypatch.setattr(loader_module, "ELEMENT_SLICE", 2)
    data = version_config(7, "v1").replace(b"<add origin", between + b"<add origin")
    document, _ = parse_bytes(data, "w.config")
    assert document is not None
    cors = document.root[0][0]
    rules = [child for child in cors if isinstance(child.tag, str)]
    text = data.decode()
    mapped = Locator(text, document.root)._offset_map()
    expected = [mapped[rule] for rule in rules]
    locator = Locator(text, document.root)
    assert locator._offsets_of(rules) == expected
    assert locator._offsets is not None  # elsewhere than beside requests: the map
    with loader_module.beside_requests():
        locator = Locator(text, document.root)
        assert locator._offsets_of(rules) == expected
        assert locator._offsets is None  # counted, not mapped
        for picked in (rules[:3] + rules[4:], [*rules[1:], document.root[0][1]],
                       [*rules[:2], rules[1][0]], [rules[0][0][0], rules[1][0][0]]):
            # not consecutive siblings: a gap, another parent, a child after its parent
            locator = Locator(text, document.root)
            assert locator._offsets_of(picked) == [mapped[element] for element in picked]
            assert locator._offsets is not None  # placed by the map of every element


def test_an_element_placed_by_counting_is_counted_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each count walks every element before it (libxml2; 90 ms for one after a 100,000-rule
    section), and a section's place is asked several times by one load: counted once, and
    the 32 counts before the map are spent on different elements."""
    data = version_config(10, "v1")  # 56 elements
    document, _ = parse_bytes(data, "w.config")
    assert document is not None
    locator = document.locator
    asked: list[etree._Element] = []
    index = Locator._index

    def counting(self: Locator, element: etree._Element) -> int | None:
        asked.append(element)
        return index(self, element)

    monkeypatch.setattr(Locator, "_index", counting)
    custom = document.root[0][1][0]
    first = [locator.element(custom), locator.attribute(custom, "nothing"), locator.element(custom)]
    assert first[0] == first[2] and first[0][0] is not None
    assert asked == [custom]
    assert locator._offsets is None
    for element in list(document.root.iter(etree.Element))[:40]:
        locator.element(element)
    assert len(asked) == 32 and locator._offsets is not None  # then the map of every element
