"""The test project's URLs."""

from __future__ import annotations

from django.urls import path

from corsite import views

urlpatterns = [
    path("api/orders", views.orders),
    path("api/public", views.public),
    path("api/own-cors", views.own_cors),
    path("api/boom", views.boom),
    path("api/async", views.async_public),
    path("login/", views.login),
]
