"""What every section reader shares: how IIS reads a boolean, and the transform namespace.

:mod:`iiscors.config.rules` reads the sections of contract A, :mod:`iiscors.config.rewrite` the
URL Rewrite recipe of contract C2; both read values the same way, from here.
"""

from __future__ import annotations

import re

#: XML's own white space (XML 1.0 section 2.3): fine anywhere in a section (contract A4)
XML_SPACE = " \t\r\n"

#: The namespace of web.config transforms (xdt:Transform, xdt:Locator), in lxml's {ns} form
XDT = "{http://schemas.microsoft.com/XML-Document-Transform}"
#: The largest signed 32-bit integer
INT32_MAX = 2**31 - 1
#: Contract A5's integer: a sign, leading zeros, then at most the 10 digits of any int32 (so
#: that int() never meets more than Python's 4,300-digit limit: a value is judged, not raised)
_INT32 = re.compile(r"([+-]?)0*([0-9]{1,10})")


def parse_bool(value: str) -> bool | None:
    """Contract A5: ``true``/``false`` in any letter case, nothing else."""
    folded = value.lower()
    if folded == "true":
        return True
    if folded == "false":
        return False
    return None


def parse_int32(value: str) -> int | None:
    """Contract A5: optional sign and decimal digits (leading zeros are fine), no spaces,
    within a signed 32-bit int; None for anything else, however long."""
    match = _INT32.fullmatch(value)
    if match is None:
        return None
    number = int(match.group(1) + match.group(2))
    return number if -INT32_MAX - 1 <= number <= INT32_MAX else None
