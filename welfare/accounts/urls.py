from django.urls import path
from rest_framework.routers import SimpleRouter

from welfare.accounts import api

router = SimpleRouter()
router.register("users", api.UserViewSet, basename="user")

urlpatterns = [
    path("auth/login", api.LoginView.as_view(), name="auth-login"),
    path("auth/logout", api.LogoutView.as_view(), name="auth-logout"),
    path("auth/password", api.PasswordChangeView.as_view(), name="auth-password"),
    path("auth/otp/devices", api.OtpDeviceListCreateView.as_view(), name="otp-devices"),
    path(
        "auth/otp/devices/<int:device_id>/confirm",
        api.OtpDeviceConfirmView.as_view(),
        name="otp-device-confirm",
    ),
    *router.urls,
]
