"""Hot reload: notice that a web.config changed, rebuild off to the side, swap atomically (A8).

IIS re-reads web.config when it changes; so does iiscors, on by default.  The design keeps the
request path cheap and the swap safe:

- **Off the request path.**  Each middleware has a reload thread that checks the files every
  ``reload_interval`` seconds, whether or not requests come: it ``stat``\\s the files the
  configuration was built from (and, for a site root, its directories, so that a web.config
  appearing anywhere is seen), reads them only when a stat differs, rebuilds, and swaps.  No
  request waits for a check or a rebuild, nor looks at the files: requests keep the current
  policy until the new one is ready (a request only compares the clock with a deadline that is
  infinite while the thread runs).  ``reload_interval=0`` (tests, development) has no thread and
  checks in each request instead, before answering it: that request pays for the check and
  any rebuild.
- **What a worker promises.**  In every process that holds the middleware (each gunicorn
  worker, with or without ``--preload``), whatever requests that process gets, an edit is
  applied within ``reload_interval`` plus the rebuild then in flight, if any, plus its own
  rebuild (what loading that configuration costs); every request that starts after that is
  answered from it, and each request is answered wholly from one policy, old or new.  The
  thread is started with the middleware.  A thread does not survive a fork: at ``os.fork``
  (hooks of :func:`os.register_at_fork`) the child starts its own at once, and the parent stops
  its thread, waiting for a check in flight (a fork in mid-rebuild would copy lxml's and
  logging's locks, held, into the child), until its next request starts it again: a gunicorn
  ``--preload`` master, which serves no request, keeps none.  The thread holds the middleware
  weakly and ends when the middleware is collected; one ended by an error is started again
  by the next request.
- **Sharing the process.**  While a check runs, the interpreter switches threads every
  :data:`REBUILD_SWITCH_INTERVAL` (a request waits less for the GIL) and the cyclic collector
  runs no automatic collection (:data:`NO_COLLECTION`): a rebuild's allocations would
  otherwise trigger collections over the growing new configuration and full ones over both,
  each stopping every thread.  After a rebuild its survivors are moved into the oldest
  generation without being traversed (:func:`adopt_young_objects`), so that no young
  collection walks the new configuration either.  The replaced configuration is released a
  bounded step at a time (:func:`release_gradually`), not in one cascade of deallocations.
  What remains is the full collections of the steady state, which traverse whatever
  configuration is in use (docs/performance.md, "Hot reload under load").
- **Atomic.**  The new :class:`~iiscors.Config` and its :class:`~iiscors.policy.core.Policy` are
  built completely before one attribute assignment makes them current.  A request reads the policy
  once, so it sees the old one or the new one, never a mixture.
- **Fail safe.**  An edit that makes the configuration unusable leaves the last good policy
  serving, and every diagnostic is logged once (logger ``iiscors``).  With ``strict=True``
  the adapters answer 500 to every request until the files are fixed, as IIS answers 500.19.
  Errors are scoped as on IIS (contract E6): when the root level stays usable, only the scope
  an edit broke keeps its last good sections (or, strict, answers 500), and the rest of the
  edit applies; a scope that was unusable from the start answers 500 until it is fixed.
  An exception inside a check is logged and the thread goes on (the current policy serving).
- **No missed edits.**  File systems keep coarse timestamps (a few milliseconds on Linux, two
  seconds on FAT), so an in-place edit of the same size right after a read can leave the stat
  unchanged.  As git does with "racily clean" files, while any watched file or directory was
  modified in the last :data:`RACY_NS` the next check compares the content of those paths (a
  digest of a file's bytes, of a directory's names) with the content read before the last
  rebuild, and rebuilds only when it differs: never again and again during that window.

A site tree of thousands of directories costs that many ``stat`` calls per check, on the
reload thread (see docs/serving.md); raise ``reload_interval`` there, or pass ``reload=False``
and restart to deploy.
"""
from __future__ import annotations

import gc
import hashlib
import logging
import math
import os
import sys
import threading
import time
import weakref
from collections.abc import Generator, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace
from itertools import chain, islice
from pathlib import Path
from typing import Protocol

from iiscors.config.diagnostics import ConfigError, Diagnostic
from iiscors.config.files import Stamp, read_regular_file, stamp
from iiscors.config.load import Config, SourceFile, analyse, read_all
from iiscors.config.loader import DEFAULT_MAX_BYTES, Source, beside_requests
from iiscors.config.rules import Applications, application_paths
from iiscors.config.scope import keep_last_good
from iiscors.config.server import ApplicationHost, analyse_server
from iiscors.config.site import analyse_site
from iiscors.policy.core import Policy

logger = logging.getLogger("iiscors")

#: Default seconds between two checks of the watched files (contract A8: "within ~2 s").
DEFAULT_RELOAD_INTERVAL = 1.0

#: A file modified this recently (ns) may hide a later edit behind an equal stat: re-read it.
RACY_NS = 2_000_000_000

Snapshot = tuple[tuple[str, Stamp], ...]
#: A digest of what a watched path held (:func:`content_token`), None when it could not be read
Token = bytes | None

#: The reload thread's name (one per middleware and process, started by the first due check).
THREAD_NAME = "iiscors-reload"
#: Seconds the interpreter lets one thread run before switching while a rebuild runs on the
#: reload thread (Python's default is 0.005): a request thread waiting for the GIL gets it
#: this soon, instead of after up to 5 ms of rebuilding (issue 17).
REBUILD_SWITCH_INTERVAL = 0.0005
#: The collector's thresholds while a check runs on a reload thread: a first threshold of 0
#: disables automatic collection altogether (``gc.set_threshold`` docs), young and full.
NO_COLLECTION = (0, 0, 0)
#: Objects freed at once when a replaced configuration is released (:func:`release_gradually`)
RELEASE_CHUNK = 500
#: A container with more items than this has its leaves (strings, numbers) freed a chunk at a
#: time too, not with it (:func:`release_steps`)
RELEASE_FANOUT = 16
#: Sets the ids seen by :func:`release_steps` are spread over (a prime: ids are multiples of 16)
RELEASE_SHARDS = 1021
#: The items of a large container read at a time when a replaced configuration is released
#: (:func:`_hold_referents`): each step one bounded C call
RELEASE_ITEMS_STEP = 1024
#: Seconds a fork waits for a check in flight on the forking process's reload thread.
FORK_JOIN_SECONDS = 30.0


class ConfigSource(Protocol):
    """Where a configuration comes from, and how to build it again."""

    #: how the source is named in log messages
    description: str
    #: False when there is nothing on disk to watch (bytes, an in-memory Config)
    watchable: bool

    def build(self) -> tuple[Config | None, list[Diagnostic], Snapshot]:
        """Read the source: (config or None, diagnostics, the stats taken before reading)."""
        ...


class FixedSource:
    """A configuration that cannot change: bytes, or a Config built from several files."""

    watchable = False

    def __init__(self, config: Config, description: str = "<memory>") -> None:
        self.config = config
        self.description = description

    def build(self) -> tuple[Config | None, list[Diagnostic], Snapshot]:
        return self.config, list(self.config.diagnostics), ()


class FileSource:
    """One web.config on disk."""

    watchable = True

    def __init__(self, path: str | os.PathLike[str], *, max_bytes: int = DEFAULT_MAX_BYTES,
                 all_or_nothing: bool = False, applications: Applications = ()) -> None:
        self.path = os.fspath(path)
        self.max_bytes = max_bytes
        self.all_or_nothing = all_or_nothing
        self.applications = applications
        self.description = self.path

    def build(self) -> tuple[Config | None, list[Diagnostic], Snapshot]:
        snapshot = ((self.path, stamp(self.path)),)  # before reading: see SiteScan
        analysis = read_all([SourceFile(self.path)], max_bytes=self.max_bytes,
                            all_or_nothing=self.all_or_nothing,
                            applications=self.applications)
        # Contract E5: its configSource files are watched too (stamped before being read).
        return analysis.config, analysis.diagnostics, snapshot + analysis.watched


class SiteSource:
    """A site root: its web.config and every sub-directory's (:mod:`iiscors.config.site`)."""

    watchable = True

    def __init__(self, root: str | os.PathLike[str], *, max_bytes: int = DEFAULT_MAX_BYTES,
                 all_or_nothing: bool = False, applications: Applications = (),
                 **bounds: int) -> None:
        self.root = os.fspath(root)
        self.max_bytes = max_bytes
        self.all_or_nothing = all_or_nothing
        self.applications = applications
        self.bounds = bounds
        self.description = f"site root {self.root}"

    def build(self) -> tuple[Config | None, list[Diagnostic], Snapshot]:
        analysis = analyse_site(self.root, max_bytes=self.max_bytes,
                                all_or_nothing=self.all_or_nothing,
                                applications=self.applications, **self.bounds)
        return analysis.config, analysis.diagnostics, analysis.scan.stamps


class ServerSource:
    """A site of an applicationHost.config, with its web.config files
    (:mod:`iiscors.config.server`, contract E4): the apphost is watched with them."""

    watchable = True

    def __init__(self, server: ApplicationHost, *, max_bytes: int = DEFAULT_MAX_BYTES,
                 all_or_nothing: bool = False, applications: Applications = ()) -> None:
        self.server = server
        self.max_bytes = max_bytes
        self.all_or_nothing = all_or_nothing
        self.applications = applications
        self.description = server.description

    def build(self) -> tuple[Config | None, list[Diagnostic], Snapshot]:
        analysis = analyse_server(self.server, max_bytes=self.max_bytes,
                                  all_or_nothing=self.all_or_nothing,
                                  applications=self.applications)
        return analysis.config, analysis.diagnostics, analysis.scan.stamps


def open_source(config: Source | Config | ApplicationHost, *,
                max_bytes: int = DEFAULT_MAX_BYTES, all_or_nothing: bool = False,
                applications: Applications = ()) -> ConfigSource:
    """The :class:`ConfigSource` for what a middleware was given.

    A path to a directory is a site root; a path to a file is one web.config; an
    :class:`~iiscors.config.server.ApplicationHost` is a site of a server (contract E4); bytes
    never change.  A :class:`Config` is watched when it was read from exactly one file at the site
    root (what :func:`iiscors.load_config` returns for a path); a Config assembled from several
    files cannot be rebuilt from itself: pass the site directory instead.

    :param all_or_nothing: any error makes the whole configuration unusable (contract E6's
        explicit option); by default only the scope that holds it.
    :param applications: child application paths (contract E3); a :class:`Config` keeps the
        ones it was built with.
    :raises ConfigError: bytes whose root level (or, all or nothing, anything) is unusable.
    """
    if isinstance(config, ApplicationHost):
        return ServerSource(config, max_bytes=max_bytes, all_or_nothing=all_or_nothing,
                            applications=applications)
    if isinstance(config, Config):
        if len(config.paths) == 1 and all(level.depth == 0 for level in config.levels):
            return FileSource(config.paths[0], max_bytes=max_bytes,
                              all_or_nothing=all_or_nothing, applications=applications)
        return FixedSource(config)
    if isinstance(config, bytes | bytearray | memoryview):
        built, diagnostics = analyse([SourceFile(bytes(config))], max_bytes=max_bytes,
                                     all_or_nothing=all_or_nothing, applications=applications)
        if built is None:
            raise ConfigError(diagnostics)
        return FixedSource(built, "<bytes>")
    if os.path.isdir(config):
        return SiteSource(config, max_bytes=max_bytes, all_or_nothing=all_or_nothing,
                          applications=applications)
    return FileSource(config, max_bytes=max_bytes, all_or_nothing=all_or_nothing,
                      applications=applications)


def current(snapshot: Snapshot) -> Snapshot:
    """The same paths, stat-ed again."""
    return tuple((path, stamp(path)) for path, _ in snapshot)


def is_racy(snapshot: Snapshot, now_ns: int | None = None) -> bool:
    """Whether some watched path changed so recently that its stat may hide a later edit."""
    now = time.time_ns() if now_ns is None else now_ns
    return any(s is not None and abs(now - s[0]) < RACY_NS for _, s in snapshot)


def content_token(path: str, limit: int) -> Token:
    """A digest of what ``path`` holds now: a file's first ``limit`` bytes, a directory's
    sorted names; None when it cannot be read (gone, a FIFO: never waits, see
    :func:`iiscors.config.files.read_regular_file`)."""
    try:
        data = read_regular_file(path, limit)
    except IsADirectoryError:
        try:
            data = "\0".join(sorted(os.listdir(path))).encode("utf-8", "surrogateescape")
        except OSError:
            return None
    except OSError:
        return None
    return hashlib.blake2b(data, digest_size=16).digest()


def racy_tokens(snapshot: Snapshot, limit: int, now_ns: int) -> dict[str, Token]:
    """The content token of every path of ``snapshot`` whose stat is racy at ``now_ns``."""
    return {path: content_token(path, limit) for path, st in snapshot
            if is_racy(((path, st),), now_ns)}


def _dismantled(value: object) -> bool:
    """Whether :func:`release_gradually` follows ``value``'s references: the containers and
    iiscors's own objects a configuration is made of; never a type, a module or a function,
    which lead to the whole program."""
    return type(value) in _CONTAINERS or type(value).__module__.startswith("iiscors.")


_CONTAINER_TYPES = (tuple, list, dict, set, frozenset)
_CONTAINERS = frozenset(_CONTAINER_TYPES)


def release_gradually(roots: list[object]) -> None:
    """Free what ``roots`` alone hold (a configuration and policy a swap replaced) in bounded
    steps (:func:`release_steps`), emptying ``roots``.

    Dropping the last reference to a configuration frees its every object in one cascade of
    deallocations, which holds the GIL throughout: 20-47 ms for 10,000 realistic rules on the
    project's VM, every request thread stopped (issue 17).  Between two steps the interpreter
    can switch threads; an object something else still refers to (a request in flight, the
    new configuration's shared parts) simply outlives its entry."""
    for _ in release_steps(roots):
        pass


def release_steps(roots: list[object]) -> Iterator[int]:
    """The steps of :func:`release_gradually`, one per iteration (yielding the entries it
    released, 0 while finding them).  Each reachable object the release follows (containers,
    iiscors's own objects) is held by one list entry, in breadth-first order, in lists of
    :data:`RELEASE_CHUNK` entries; so are the leaves (strings, numbers) of a container with
    more than :data:`RELEASE_FANOUT` items, and a dict's keys (a str-keyed dict does not
    report them to ``gc.get_referents``).  Deleting the entries a list at a time, from the
    root, then frees at most RELEASE_CHUNK objects per step, each with at most RELEASE_FANOUT
    leaves of its own (one another part still refers to is deferred: :func:`_release_pass`).
    The ids already seen are kept in :data:`RELEASE_SHARDS` small sets, so that none grows,
    resizes or is freed in one long step (one set held ~1.2 million ints at 100,000 rules)."""
    chunks: list[list[object]] = [list(roots)]
    roots.clear()
    seen: list[set[int]] = [set() for _ in range(RELEASE_SHARDS)]
    for ident in map(id, chunks[0]):  # an id: a local must not hold a root
        seen[ident % RELEASE_SHARDS].add(ident)
    follow: dict[type, bool] = {}  # _dismantled, once per type
    index = 0
    while index < len(chunks) and chunks[index]:  # an empty chunk is the last: all found
        _hold_referents(chunks, chunks[index], seen, follow)
        index += 1
        yield 0
    while seen:
        seen.pop()
        yield 0
    while chunks:
        remaining = sum(map(len, chunks))
        chunks = yield from _release_pass(chunks)
        if sum(map(len, chunks)) == remaining:  # all held from outside: drop the entries
            chunks = yield from _release_pass(chunks, defer=False)


def _release_pass(chunks: list[list[object]], *, defer: bool = True
                  ) -> Generator[int, None, list[list[object]]]:
    """Delete the entries of ``chunks`` a chunk at a time, the root's first, so that a child
    outlives its parent's step; return the deferred ones.  An object something else refers to
    too is deferred (held again, in the same order), not released: when that referrer is a
    part of the configuration found later (a tuple that both the policy and the Config hold),
    it would otherwise free the object and, with it, everything below whose entries are gone
    (10,000 rules in one step, at 10,000 rules)."""
    deferred: list[list[object]] = [[]]
    chunks.reverse()
    while chunks:
        chunk = chunks.pop()
        if defer:
            # 3: the chunk's entry, the comprehension's variable and getrefcount's argument
            kept = [value for value in chunk if sys.getrefcount(value) > 3]
            if len(deferred[-1]) + len(kept) > RELEASE_CHUNK:
                deferred.append([])
            deferred[-1] += kept
            del kept
        chunk.reverse()  # list.clear() releases its last entry first
        released = len(chunk)
        chunk.clear()
        yield released
    return [chunk for chunk in deferred if chunk]


def _hold_referents(chunks: list[list[object]], values: list[object], seen: list[set[int]],
                    follow: dict[type, bool]) -> None:
    """Append to ``chunks`` what ``values`` refer to and the release follows (once each), and
    the leaves of their large containers (see :func:`release_steps`)."""
    def hold(value: object) -> None:
        if len(chunks[-1]) >= RELEASE_CHUNK:
            chunks.append([])
        chunks[-1].append(value)

    def held(child: object) -> None:
        if _follows(child, follow):
            shard = seen[id(child) % RELEASE_SHARDS]
            if id(child) not in shard:
                shard.add(id(child))
                hold(child)
        elif leaves:  # a large container's leaf (strings, numbers): an entry of its own
            hold(child)

    if chunks[-1] is values:  # the traversal reads each chunk once: hold the next ones after
        chunks.append([])
    large = [value for value in values if isinstance(value, _CONTAINER_TYPES)
             and type(value) in _CONTAINERS and len(value) > RELEASE_FANOUT]
    leaves = False
    if large:  # every other value's referents in one call: each has few
        large_ids = set(map(id, large))
        small = [value for value in values if id(value) not in large_ids]
    else:
        small = values
    for child in gc.get_referents(*small):
        held(child)
    leaves = True
    for value in large:
        # A large container's items a step at a time: one gc.get_referents() of a
        # 100,000-item container, or one list of a large dict's keys and values, built a
        # list of them all in one C call (1-8 ms with the GIL held beside requests; issue 17).
        # A dict's keys too: a str-keyed dict does not report them to gc.get_referents.
        items = (chain.from_iterable(value.items()) if isinstance(value, dict)
                 else iter(value))
        while step := list(islice(items, RELEASE_ITEMS_STEP)):
            for child in step:
                held(child)


def _follows(value: object, follow: dict[type, bool]) -> bool:
    """:func:`_dismantled`, decided once per type (``follow`` remembers)."""
    wanted = follow.get(type(value))
    if wanted is None:
        wanted = follow[type(value)] = _dismantled(value)
    return wanted


class ReloadingPolicy:
    """The state both adapters share: the current Config and Policy, and the reload check.

    Subclasses read :attr:`policy` once per request, after calling :meth:`_poll` when
    ``time.monotonic() >= self._next_check``, and answer 500 while :attr:`config_error` is set.

    :param config: a path to a web.config, a site root directory, bytes, or a Config.
    :param max_bytes: the size limit for each file.
    :param exempt_same_origin: contract B13's opt-in exemption.
    :param reload: watch the files and swap in a new policy when they change (default on).
    :param reload_interval: seconds between two checks (default 1.0); 0 checks in every
        request, before answering it (tests, development).
    :param strict: while an edited configuration is unusable, answer 500 to every request
        instead of keeping the last good one (contract A8, like IIS's 500.19).
    :param all_or_nothing: any error makes the whole configuration unusable; by default
        (contract E6) only the scope that holds it answers 500, when the root level is usable.
    :param applications: the site's child application paths, such as ``["/api"]`` (contract
        E3: ``<location inheritInChildApplications="false">`` stops at them).
    :raises ValueError: an application path IIS would refuse.
    :raises ConfigError: the configuration is unusable at start (whatever ``strict`` says).
    """

    config: Config
    policy: Policy
    #: set, in strict mode only, while the files on disk are unusable
    config_error: ConfigError | None
    _next_check: float

    def _init_policy(self, config: Source | Config | ApplicationHost, *, max_bytes: int,
                     exempt_same_origin: bool, reload: bool, reload_interval: float,
                     strict: bool, all_or_nothing: bool = False,
                     applications: Iterable[str] = ()) -> None:
        if reload_interval < 0 or math.isnan(reload_interval):
            raise ValueError("reload_interval must be a number of seconds >= 0")
        if isinstance(applications, str):
            raise TypeError("applications is a list of paths, such as ['/api']")
        self.exempt_same_origin = exempt_same_origin
        self.strict = strict
        self.reload_interval = reload_interval
        self.max_bytes = max_bytes
        self.source = open_source(config, max_bytes=max_bytes, all_or_nothing=all_or_nothing,
                                  applications=application_paths(applications))
        if isinstance(config, Config):
            # Use the Config given (not a fresh read); a later edit shows as a stat change,
            # and one made since it was read is caught by the racy rule.
            built: Config | None = config
            diagnostics = list(config.diagnostics)
            snapshot = current(tuple((os.fspath(p), None)
                                     for p in (*config.paths, *config.includes))) \
                if self.source.watchable else ()
        else:
            built, diagnostics, snapshot = self.source.build()
        if built is None or (all_or_nothing and built.errors):
            raise ConfigError(diagnostics)  # contract A8: never half-works
        self.config = built
        self.policy = built.compile(exempt_same_origin=exempt_same_origin)
        self.config_error = None
        self._snapshot: Snapshot = snapshot
        self._racy = is_racy(snapshot)
        #: content tokens of the racy paths, read before the build in use (none for the first:
        #: a racy first build is rebuilt once)
        self._tokens: Mapping[str, Token] = {}
        self._logged: set[Diagnostic] = set()
        self._log_scopes(built, [])
        self._failure: str | None = None
        #: rebuilds started by checks (a check that only stats allocates nothing to adopt)
        self._builds = 0
        self._lock = threading.Lock()
        self._pid = os.getpid()
        self._thread: threading.Thread | None = None
        self._wake = threading.Event()
        self.reload = reload and self.source.watchable
        # reload_interval 0: every request checks (always due); otherwise the thread times the
        # checks and no request needs to look (never due, unless the thread must be restarted).
        self._next_check = 0.0 if self.reload and reload_interval == 0 else math.inf
        if self.reload and reload_interval > 0:
            _WATCHING.add(self)
            self._start_thread()

    @property
    def watched(self) -> tuple[Path, ...]:
        """The files and directories whose stats the reload check compares."""
        return tuple(Path(path) for path, _ in self._snapshot)

    def _poll(self) -> None:
        """Called by a request that found a check due.  With ``reload_interval`` 0: checks
        here, before the request is answered (at most one check runs at a time).  Otherwise the
        reload thread is not running in this process (stopped at a fork, or ended by an error):
        start it, have it check at once, and return without waiting."""
        if self.reload_interval == 0:
            if self._lock.acquire(blocking=False):  # else another request is checking
                try:
                    self._check()
                finally:
                    self._lock.release()
            return
        self._next_check = math.inf  # the thread times the checks again
        thread = self._thread
        if thread is None or self._pid != os.getpid() or not thread.is_alive():
            self._start_thread()
        self._wake.set()

    def _start_thread(self) -> None:
        """Start this process's reload thread, unless it runs already."""
        with _START_LOCK[0]:
            if self._pid != os.getpid():  # forked without the hooks (no os.register_at_fork)
                self._forked(start=False)
            if self._thread is not None and self._thread.is_alive():
                return  # another request started it
            wake = threading.Event()  # its own: a stopped thread must not eat the next's wakes
            thread = threading.Thread(target=_reload_loop,
                                      args=(weakref.ref(self), wake, self.reload_interval),
                                      name=THREAD_NAME, daemon=True)
            self._wake, self._thread = wake, thread  # before start: the loop compares it
            weakref.finalize(self, wake.set)  # collected: wake the thread so that it ends
            thread.start()

    def _stop_thread(self) -> None:
        """Before a fork: end this process's reload thread, waiting for a check in flight (a
        fork in mid-rebuild would copy lxml's and logging's locks held, forever, into the
        child).  No request restarts it until the fork is done."""
        thread = self._thread
        self._next_check, self._thread = math.inf, None
        if thread is None or thread is threading.current_thread() or not thread.is_alive():
            return
        self._wake.set()
        thread.join(FORK_JOIN_SECONDS)
        if thread.is_alive():
            logger.warning("iiscors: a check of %s was still running at a fork after %s s; "
                           "forking anyway", self.source.description, FORK_JOIN_SECONDS)

    def _forked(self, *, start: bool) -> None:
        """In a forked child: the parent's thread does not exist here, and a lock it held at
        the fork would stay held forever; new ones, and this process's own thread."""
        self._pid, self._lock, self._thread = os.getpid(), threading.Lock(), None
        self._wake = threading.Event()
        if start:
            self._start_thread()

    def _background_check(self) -> None:
        """One check on the reload thread; an exception is logged (once while it repeats) and
        the current policy keeps serving (contract A8)."""
        try:
            with self._lock, _rebuild_conditions(), beside_requests():
                builds = self._builds
                self._check()
                if self._builds != builds:  # not after a stat-only check: nothing to adopt
                    adopt_young_objects()
            self._failure = None
        except Exception as exc:  # the thread must outlive anything a check raises
            failure = f"{type(exc).__name__}: {exc}"
            if failure != self._failure:
                logger.exception("iiscors: checking %s for edits failed; the current "
                                 "configuration keeps serving", self.source.description)
            self._failure = failure

    def check_reload(self) -> bool:
        """Check the watched files now, whatever the interval, and wait for the rebuild; True if
        a new policy was swapped in.  Useful in tests and from a deploy hook."""
        with self._lock:
            return self._check()

    def _check(self) -> bool:
        if not self.reload:
            return False
        now = time.time_ns()
        stats = current(self._snapshot)
        if stats == self._snapshot and (not self._racy or self._same_content(now)):
            return False
        tokens = racy_tokens(stats, self.max_bytes + 1, now)  # read before the build reads
        self._builds += 1
        built, diagnostics, snapshot = self.source.build()
        self._snapshot = snapshot
        self._racy = is_racy(snapshot)
        self._tokens = tokens
        if built is None:
            self._unusable(diagnostics)
            return False
        kept: list[tuple[str, ...]] = []
        if built.broken and not self.strict:
            # Contract A8 per scope (E6): a scope the edit broke keeps its last good sections.
            scopes, kept = keep_last_good(built.scopes, built.broken, self.config.scopes)
            built = replace(built, scopes=scopes)
        # Something logged as a problem is gone: a recovery, reported as loudly as the failure.
        recovered = self.config_error is not None or bool(self._logged - set(built.errors))
        self._log_scopes(built, kept)
        if built.files == self.config.files and self.config_error is None and (
                built.levels == self.config.levels or built.scopes == self.config.scopes):
            # A racy re-read, an edit undone, or an edit whose only effect is a scope that
            # keeps its last good sections: nothing served changes, no policy to swap.
            if recovered:
                logger.warning("iiscors: %s is usable again (unchanged from the configuration "
                               "in use)", self.source.description)
            self.config = built
            return False
        self._swap(built, recovered)
        return True

    def _same_content(self, now: int) -> bool:
        """The racy paths hold what they held before the last rebuild (their stats are equal):
        nothing to rebuild.  Once their stats are older than RACY_NS, the stats suffice."""
        racy = racy_tokens(self._snapshot, self.max_bytes + 1, now)
        if any(path not in self._tokens or self._tokens[path] != token
               for path, token in racy.items()):
            return False
        self._racy = bool(racy)
        return True

    def _swap(self, built: Config, recovered: bool) -> None:
        policy = built.compile(exempt_same_origin=self.exempt_same_origin)  # off to the side
        retired: list[object] = [self.policy, self.config]
        # The swap: the policy first (what requests read), then the rest.
        self.policy = policy
        self.config = built
        self.config_error = None
        if threading.current_thread() is self._thread:
            release_gradually(retired)  # not in one stop of every thread (issue 17)
        # A recovery is reported at the level its failure was (an operator who saw the error
        # must see it end); a routine reload is only information.
        logger.log(logging.WARNING if recovered else logging.INFO,
                   "iiscors: reloaded %s (%d file(s))%s", self.source.description,
                   len(built.files), "; it is usable again" if recovered else "")
        for diagnostic in built.diagnostics:
            if not diagnostic.is_error:  # the errors were logged once, by _log_scopes
                logger.warning("iiscors: %s", diagnostic)

    def _log_scopes(self, config: Config, kept: Sequence[tuple[str, ...]]) -> None:
        """Contract E6: log every error of the unusable scopes once, located, with what is
        done there (500, or the last good sections kept); forget the errors that are gone."""
        errors = set(config.errors)
        for path, found in config.broken.items():
            fresh = [d for d in found if d not in self._logged]
            if not fresh:
                continue
            scope = "/" + "/".join(path)
            action = ("the last good configuration keeps serving there" if path in kept
                      else "answering 500 under it, as IIS answers 500.19")
            logger.error("iiscors: %s: the configuration of %s is unusable; %s",
                         self.source.description, scope, action)
            for diagnostic in fresh:
                logger.error("iiscors: %s", diagnostic)
            self._logged.update(fresh)
        self._logged &= errors

    def _unusable(self, diagnostics: Sequence[Diagnostic]) -> None:
        # Contract A8: keep the last good policy (or, strict, answer 500) and log every
        # diagnostic once per episode, not at every check.
        fresh = [d for d in diagnostics if d not in self._logged]
        if fresh:
            action = ("answering 500 to every request until it is fixed (strict mode)"
                      if self.strict else "the last good configuration keeps serving")
            logger.error("iiscors: %s is unusable after an edit; %s",
                         self.source.description, action)
            for diagnostic in fresh:
                logger.log(logging.ERROR if diagnostic.is_error else logging.WARNING,
                           "iiscors: %s", diagnostic)
            self._logged.update(fresh)
        if self.strict:
            self.config_error = ConfigError(diagnostics)


#: Held while a reload thread is started or stopped: no two for one middleware, none started
#: during a fork.  A list, so that a forked child can replace it (the forking thread holds it).
_START_LOCK = [threading.Lock()]

#: The middlewares of this process that have a reload thread to run (reload on, an interval
#: above 0), held weakly: a fork stops their threads in the parent and starts them in the child.
_WATCHING: weakref.WeakSet[ReloadingPolicy] = weakref.WeakSet()


def _before_fork() -> None:
    """Stop this process's reload threads, waiting for checks in flight (see _stop_thread)."""
    _START_LOCK[0].acquire()
    for policy in list(_WATCHING):
        policy._stop_thread()


def _after_fork_in_parent() -> None:
    """The parent's threads start again at its next request (a gunicorn --preload master
    serves none: it keeps none)."""
    for policy in list(_WATCHING):
        policy._next_check = 0.0
    _START_LOCK[0].release()


def _after_fork_in_child() -> None:
    """A child (a gunicorn worker) starts its own thread for each middleware it inherited."""
    _START_LOCK[0] = threading.Lock()
    for policy in list(_WATCHING):
        policy._forked(start=True)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(before=_before_fork, after_in_parent=_after_fork_in_parent,
                        after_in_child=_after_fork_in_child)


_CONDITIONS_LOCK = threading.Lock()
#: Checks running on reload threads now, and what to restore when the last one ends: the
#: switch interval and the collector's thresholds.
_CONDITIONS: list[tuple[float, tuple[int, int, int]]] = []


@contextmanager
def _rebuild_conditions() -> Iterator[None]:
    """While a check runs on a reload thread: the interpreter switches threads every
    :data:`REBUILD_SWITCH_INTERVAL`, and the cyclic garbage collector runs no automatic
    collection (thresholds :data:`NO_COLLECTION`).  A rebuild allocates more than a hundred
    thousand lasting objects per 10,000 rules, and every collection they trigger, young or
    full, traverses what the rebuild holds so far while every thread waits (issue 17: young
    ones over a growing configuration, full ones over both configurations, 50-420 ms each at
    10,000 rules).  What a rebuild drops holds no cycles and is freed by reference counting;
    the requests' own cyclic garbage waits for the next full collection (see
    :func:`adopt_young_objects`).  The switch interval
    and the thresholds are restored exactly when the last concurrent check ends."""
    with _CONDITIONS_LOCK:
        if not _CONDITIONS:
            _CONDITIONS.append((sys.getswitchinterval(), gc.get_threshold()))
            sys.setswitchinterval(min(_CONDITIONS[0][0], REBUILD_SWITCH_INTERVAL))
            gc.set_threshold(*NO_COLLECTION)
        else:
            _CONDITIONS.append(_CONDITIONS[0])
    try:
        yield
    finally:
        with _CONDITIONS_LOCK:
            interval, thresholds = _CONDITIONS.pop()
            if not _CONDITIONS:
                sys.setswitchinterval(interval)
                gc.set_threshold(*thresholds)


def adoption_supported(version: tuple[int, ...] | None = None,
                       gil: bool | None = None) -> bool:
    """Whether :func:`adopt_young_objects` may run here: CPython 3.11 to 3.13 with the GIL,
    where ``gc.freeze()`` moves every tracked object into the permanent generation and
    ``gc.unfreeze()`` moves them all into the oldest generation (CPython's gcmodule.c).  The
    free-threaded build and 3.14's incremental collector keep objects otherwise."""
    major_minor = tuple(sys.version_info[:2] if version is None else version[:2])
    if gil is None:
        gil = bool(getattr(sys, "_is_gil_enabled", lambda: True)())
    return sys.implementation.name == "cpython" and gil and (3, 11) <= major_minor <= (3, 13)


def adopt_young_objects() -> bool:
    """Move every object of the young generations into the oldest one without traversing any
    (``gc.freeze(); gc.unfreeze()``, two list splices); True when done.

    Called after a rebuild (issue 17): the new configuration's objects, allocated while no
    collection ran, all sit in the youngest generation, and the first young collection
    after the check would traverse all of them (tens of ms at 10,000 rules, every thread
    stopped), then the next ones again as they are promoted.  In the oldest generation they
    are traversed only by a full collection, whose trigger does not count them (they were not
    promoted by a young one).  What else was young (the requests' recent objects) is moved
    too: its cyclic garbage waits for the next full collection.  Skipped when the
    application froze objects itself (``gc.get_freeze_count() > 0``): unfreezing would undo
    its freeze, such as a gunicorn ``--preload`` app's copy-on-write heap."""
    if not adoption_supported() or gc.get_freeze_count() > 0:
        return False
    gc.freeze()
    gc.unfreeze()
    return True


def _reload_loop(owner: weakref.ref[ReloadingPolicy], wake: threading.Event,
                 interval: float) -> None:
    """The reload thread: a check every ``interval`` seconds (sooner when woken), whether or
    not requests come.  It holds the middleware weakly and ends once it is collected, or
    when a fork or a restart gave the middleware another thread."""
    me = threading.current_thread()
    try:
        while True:
            wake.wait(interval)
            wake.clear()
            policy = owner()
            if policy is None or policy._thread is not me:
                return
            policy._background_check()
            del policy  # hold no strong reference while waiting
    finally:
        policy = owner()
        if policy is not None and policy._thread is me:  # ended by an error: the next
            policy._next_check = 0.0  # request starts another


#: The body of the strict-mode 500 (details go to the log, never to the client, as IIS does
#: for remote requests).
UNUSABLE_BODY = (b"500 Internal Server Error: the server's web.config is unusable "
                 b"(iiscors strict mode, like IIS's 500.19); see the server log.\n")
