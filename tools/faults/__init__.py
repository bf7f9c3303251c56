"""The fault injector (issue 7, contract A8): a web.config rewritten under a running server.

Used by ``python tools/loadtest.py --faults`` and by ``tests/hardening/test_faults_under_load.py``,
each with its own load; nothing here starts a server or sends a request.

- :mod:`faults.versions`: the good versions, the bad edit, the steps, and the log lines each
  bad state must produce;
- :mod:`faults.injector`: the injector that runs the steps, the served app's log parsed, and a
  settle that holds each step until every worker logged it;
- :mod:`faults.oracle`: the request mix, and each good version's answer to it, computed
  in-process, so that every response can be attributed to exactly one version.
"""
