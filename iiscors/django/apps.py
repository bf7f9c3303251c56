"""The Django application ``iiscors.django``: it registers the system checks."""

from __future__ import annotations

from django.apps import AppConfig
from django.core import checks

from iiscors.django.checks import check_middleware, check_settings, check_web_config

#: The tag of every iiscors check: ``manage.py check --tag iiscors`` runs only these.
TAG = "iiscors"


class IISCorsConfig(AppConfig):  # type: ignore[misc]  # django ships no type information
    name = "iiscors.django"
    label = "iiscors"
    verbose_name = "iiscors (IIS CORS from web.config)"
    default = True

    def ready(self) -> None:
        for check in (check_settings, check_middleware, check_web_config):
            checks.register(check, TAG)
