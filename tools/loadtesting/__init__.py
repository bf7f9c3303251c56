"""The load tests (``python tools/loadtest.py``), one module per job.

- :mod:`loadtesting.client`: the asyncio HTTP/1.1 client that keeps N connections busy and
  checks every response against the request mix;
- :mod:`loadtesting.mix`: what a request mix is, and issue 7's CORS mix (unique origins);
- :mod:`loadtesting.processes`: starting, watching (``/proc``: children, RSS) and stopping the
  processes under test;
- :mod:`loadtesting.app` and :mod:`loadtesting.gunicorn_server`: the app gunicorn serves, and
  gunicorn started and stopped;
- :mod:`loadtesting.cors_run`: the CORS load test of issue 7 (gunicorn, worker RSS);
- :mod:`loadtesting.fault_run`: the same load while :mod:`faults` rewrites the web.config;
- :mod:`loadtesting.serve_mix`, :mod:`loadtesting.backend`, :mod:`loadtesting.serve_run`:
  ``iiscors serve --root`` and ``--proxy`` under load (issue 12), with a backend of its own;
- :mod:`loadtesting.cli`: the command line.
"""
