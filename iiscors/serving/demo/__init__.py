"""The demo that ``iiscors serve`` runs with no arguments: ``web.config`` and a small API."""
