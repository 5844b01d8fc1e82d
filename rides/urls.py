from django.urls import URLPattern, URLResolver, path

from rides import views

urlpatterns: list[URLPattern | URLResolver] = [
    path("rides", views.RideListView.as_view(), name="rides-list"),
    path("rides/start", views.RideStartView.as_view(), name="rides-start"),
    path("rides/<uuid:ride_id>", views.RideDetailView.as_view(), name="rides-detail"),
    path("rides/<uuid:ride_id>/track", views.RideTrackView.as_view(), name="rides-track"),
    path("rides/<uuid:ride_id>/pause", views.RidePauseView.as_view(), name="rides-pause"),
    path("rides/<uuid:ride_id>/resume", views.RideResumeView.as_view(), name="rides-resume"),
    path("rides/<uuid:ride_id>/end", views.RideEndView.as_view(), name="rides-end"),
    path("rides/<uuid:ride_id>/rating", views.RideRatingView.as_view(), name="rides-rating"),
    path("rides/<uuid:ride_id>/problems", views.RideProblemView.as_view(), name="rides-problems"),
    path("rides/<uuid:ride_id>/force-end", views.RideForceEndView.as_view(), name="rides-force-end"),
    path("reservations", views.ReservationListCreateView.as_view(), name="rides-reservations"),
    path("reservations/<uuid:reservation_id>", views.ReservationDetailView.as_view(), name="rides-reservation"),
    path("reservations/<uuid:reservation_id>/cancel", views.ReservationCancelView.as_view(),
         name="rides-reservation-cancel"),
    # The launch call: the rider's open ride and active reservation. Under me/ with the rider's other own things;
    # served by rides (accounts may not import rides).
    path("me/current", views.CurrentView.as_view(), name="rides-current"),
]
