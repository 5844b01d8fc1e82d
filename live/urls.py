from django.urls import URLPattern, URLResolver, path

from live import views

urlpatterns: list[URLPattern | URLResolver] = [
    path("ws-ticket", views.WsTicketCreateView.as_view(), name="live-ws-ticket"),
]
