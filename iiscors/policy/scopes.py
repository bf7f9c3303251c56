"""The configured paths of a policy as a tree of segments (contract A9), walked once per request.

A request is judged by the effective section of the deepest configured path above it: a
``<location path>`` or a sub-directory's web.config.  Looking that up by hashing every prefix of
the request path as a tuple costs the square of its depth: one 60,000-segment location and a
64 KiB request path took 4.4 s of CPU per request (issue 12 item 14).  :class:`PathTree` is
built once, when the policy is compiled, with one node per configured segment; a lookup walks the
request path's segments from the root and stops at the first one no configured path continues
with, so its work is one dictionary lookup per segment walked, whatever the paths configured.

Pure data, like the rest of :mod:`iiscors.policy`; :class:`iiscors.policy.core.Policy` uses it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Generic, TypeVar

T = TypeVar("T")


class _Node(Generic[T]):
    """One configured segment: what is configured at its path, and the segments below it."""

    __slots__ = ("children", "value")

    def __init__(self) -> None:
        self.children: dict[str, _Node[T]] = {}
        self.value: T | None = None


class PathTree(Generic[T]):
    """Values by configured path, found by the deepest path that covers a request path.

    :param values: by path, each a tuple of case-folded segments
        (:func:`iiscors.config.rules.fold_segment`); ``()`` is the root.
    """

    __slots__ = ("_root",)

    def __init__(self, values: Mapping[tuple[str, ...], T]) -> None:
        self._root: _Node[T] = _Node()
        for path, value in values.items():
            node = self._root
            for segment in path:
                node = node.children.setdefault(segment, _Node())
            node.value = value

    def deepest(self, path: str) -> T | None:
        """The value of the deepest configured path that covers ``path``, or None.

        ``path`` is a request path as text; its segments compare case-insensitively, as the
        configured ones were folded, and empty segments (``//``, a trailing ``/``) are skipped.
        Contract A9: whole segments only, so ``api`` covers ``/api/x`` but not ``/apix``.
        """
        found = self._root.value
        children = self._root.children
        for segment in path.casefold().split("/"):
            if not segment:
                continue
            node = children.get(segment)
            if node is None:
                break  # no configured path continues this way: nothing deeper can match
            if node.value is not None:
                found = node.value
            children = node.children
        return found
