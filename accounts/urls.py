from django.urls import URLPattern, URLResolver, path, re_path

from accounts import views, views_push

urlpatterns: list[URLPattern | URLResolver] = [
    path("auth/register", views.RegisterView.as_view(), name="auth-register"),
    path("auth/token", views.TokenObtainView.as_view(), name="auth-token"),
    path("auth/token/refresh", views.TokenRefreshView.as_view(), name="auth-token-refresh"),
    path("auth/logout", views.LogoutView.as_view(), name="auth-logout"),
    path("auth/password-reset", views.PasswordResetView.as_view(), name="auth-password-reset"),
    path(
        "auth/password-reset/confirm",
        views.PasswordResetConfirmView.as_view(),
        name="auth-password-reset-confirm",
    ),
    path("auth/phone/start", views.PhoneStartView.as_view(), name="auth-phone-start"),
    path("auth/phone/verify", views.PhoneVerifyView.as_view(), name="auth-phone-verify"),
    path("me", views.MeView.as_view(), name="me"),
    path("me/password", views.PasswordChangeView.as_view(), name="me-password"),
    path("me/phone/verify", views.MePhoneVerifyView.as_view(), name="me-phone-verify"),
    path("me/notifications", views.NotificationListView.as_view(), name="me-notifications"),
    path("me/notifications/<uuid:notification_id>/read", views.NotificationReadView.as_view(),
         name="me-notification-read"),
    path("me/notification-preferences", views_push.NotificationPreferencesView.as_view(),
         name="me-notification-preferences"),
    path("me/devices", views_push.DeviceListView.as_view(), name="me-devices"),
    re_path(r"^me/devices/(?P<install_id>[A-Za-z0-9._:-]{1,64})$", views_push.DeviceView.as_view(),
            name="me-device"),
]
