"""The test project's views: one that needs a login, public ones, and one that fails."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse


@login_required
def orders(request: HttpRequest) -> HttpResponse:
    return JsonResponse({"orders": []})


def public(request: HttpRequest) -> HttpResponse:
    response = JsonResponse({"public": True})
    response["Vary"] = "Accept-Language"
    response["X-Total"] = "0"
    return response


def own_cors(request: HttpRequest) -> HttpResponse:
    # a leftover of another CORS layer: the view sets Access-Control-Allow-Origin itself
    response = JsonResponse({"own": True})
    response["Access-Control-Allow-Origin"] = "*"
    return response


def boom(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("the view failed")


async def async_public(request: HttpRequest) -> HttpResponse:
    return JsonResponse({"async": True})


def login(request: HttpRequest) -> HttpResponse:
    return HttpResponse("log in here", content_type="text/plain")
