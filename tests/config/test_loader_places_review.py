"""Review finding: Locator.first_attributes places each element from the one before it, so it
now assumes ``elements`` in document order (the code before the change, a bisect per offset,
did not, and the docstring does not say so).  The only caller (fastcors) passes a section's
children in order, so no load is affected today: this pins the contract either way."""

from __future__ import annotations

from iiscors.config.loader import parse_bytes

DATA = (b'<configuration><system.webServer><cors enabled="true">\n<add origin="https://a.x"/>'
        b'\n\n<add origin="https://b.x"/>\n<add origin="https://c.x"/></cors></system.webServer>'
        b'</configuration>')


def test_first_attributes_in_any_order_are_the_single_places() -> None:
    document, _ = parse_bytes(DATA, "web.config")
    assert document is not None
    rules = list(document.root.iter("add"))
    shuffled = [rules[2], rules[0], rules[1]]
    singles = [document.locator.first_attribute_at(rule, "origin") for rule in shuffled]
    found = document.locator.first_attributes(shuffled, "origin")
    # before the change: ([5, 2, 4], [6, 6, 6]); after: ([5, 5, 7], [6, -51, -22])
    assert found is None or list(zip(*found, strict=True)) == singles
