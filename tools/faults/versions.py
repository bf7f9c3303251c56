"""The web.config versions the injector writes, its steps, and what each bad state logs."""

from __future__ import annotations

from pathlib import Path

#: The good versions: each response says which version produced it twice, in the rule's
#: Access-Control-* headers and in a customHeaders ``X-Version`` (C1, on every response), so a
#: response mixing two versions shows.  The load starts on A, flips between A and B, ends on C.
FAULT_VERSIONS: dict[str, bytes] = {
    "A": b"""<?xml version="1.0" encoding="utf-8"?>
<configuration>
  <system.webServer>
    <cors enabled="true" failUnlistedOrigins="true">
      <add origin="https://*.contoso.com" maxAge="100">
        <allowHeaders><add header="x-a" /></allowHeaders>
        <allowMethods><add method="PUT" /></allowMethods>
        <exposeHeaders><add header="x-a" /></exposeHeaders>
      </add>
    </cors>
    <httpProtocol><customHeaders><add name="X-Version" value="A" /></customHeaders></httpProtocol>
  </system.webServer>
</configuration>
""",
    "B": b"""<?xml version="1.0" encoding="utf-8"?>
<configuration>
  <system.webServer>
    <cors enabled="true" failUnlistedOrigins="false">
      <add origin="https://*.contoso.com" allowCredentials="true" maxAge="200">
        <allowHeaders><add header="x-b" /></allowHeaders>
        <allowMethods><add method="DELETE" /></allowMethods>
        <exposeHeaders><add header="x-b" /></exposeHeaders>
      </add>
      <add origin="https://*.fabrikam.com" />
    </cors>
    <httpProtocol><customHeaders><add name="X-Version" value="B" /></customHeaders></httpProtocol>
  </system.webServer>
</configuration>
""",
    "C": b"""<?xml version="1.0" encoding="utf-8"?>
<configuration>
  <system.webServer>
    <cors enabled="true" failUnlistedOrigins="true">
      <add origin="https://*.contoso.com" maxAge="300">
        <allowHeaders allowAllRequestedHeaders="true" />
        <allowMethods><add method="PUT" /><add method="DELETE" /></allowMethods>
        <exposeHeaders><add header="x-c" /></exposeHeaders>
      </add>
      <add origin="https://*.fabrikam.com" allowed="false" />
    </cors>
    <httpProtocol><customHeaders><add name="X-Version" value="C" /></customHeaders></httpProtocol>
  </system.webServer>
</configuration>
""",
}

#: Version A with an attribute IIS does not know (E201): unusable.
BAD_EDIT = FAULT_VERSIONS["A"].replace(
    b'<add origin="https://*.contoso.com" maxAge="100">',
    b'<add origin="https://*.contoso.com" maxAge="100" bogus="1">',
)

#: The injector's steps, in order (see :class:`faults.injector.FaultInjector`).
FAULT_STEPS = (
    "bad-edit",  # BAD_EDIT written atomically over A
    "truncated",  # that file truncated in place to half its size (one truncate(2))
    "deleted",  # unlinked
    "bad-edit-again",  # BAD_EDIT again, in the same unusable episode: nothing new to log
    "flip",  # B and A alternately, written atomically, many times per second, ending on B
    "bad-edit-after-flip",  # BAD_EDIT again, in a new episode: logged again
    "restore",  # C written atomically
)

#: The steps that write :data:`BAD_EDIT`.
BAD_EDIT_STEPS = frozenset(("bad-edit", "bad-edit-again", "bad-edit-after-flip"))

#: What each bad state is expected to log, in each worker and each unusable episode:
#: this header line once, then each of its diagnostics once (iiscors.reload).
UNUSABLE_HEADER = (
    "iiscors: {path} is unusable after an edit; the last good configuration keeps serving"
)


def state_diagnostics(path: Path) -> dict[str, list[str]]:
    """The diagnostic log lines (``iiscors: <diagnostic>``) each bad content produces at
    ``path``, computed in-process.  Call it while ``path`` does not exist (for ``deleted``)."""
    from iiscors.config.load import SourceFile, analyse

    if path.exists():
        raise ValueError(f"{path} must not exist yet")

    def lines(source: bytes | str) -> list[str]:
        config, diagnostics = analyse([SourceFile(source, name=str(path))])
        if config is not None:
            raise AssertionError("a bad state is usable")
        return [f"iiscors: {d}" for d in diagnostics]

    return {
        "bad-edit": lines(BAD_EDIT),
        "truncated": lines(BAD_EDIT[: len(BAD_EDIT) // 2]),
        "deleted": lines(str(path)),
    }


def expected_log(path: Path, diagnostics: dict[str, list[str]]) -> dict[str, int]:
    """What each worker logs over the whole run, by line (see :data:`FAULT_STEPS`): the header
    for each bad state that brings new diagnostics (bad-edit-again brings none: same episode),
    the bad edit's diagnostics in two episodes, the others' in one."""
    want = {UNUSABLE_HEADER.format(path=path): 4}
    for step, times in (("bad-edit", 2), ("truncated", 1), ("deleted", 1)):
        for line in diagnostics[step]:
            want[line] = want.get(line, 0) + times
    return want
