"""HTML pages of the devices app (included at the site root)."""

from django.urls import path

from devices import views

urlpatterns = [
    path("device-activation/", views.device_activation, name="device-activation"),
]
