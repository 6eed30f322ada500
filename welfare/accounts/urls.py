from django.urls import path

from welfare.accounts import api
from welfare.core.routers import ApiRouter

router = ApiRouter()
router.register("users", api.UserViewSet, basename="user")
router.register("oh/role-grants", api.RoleGrantViewSet, basename="role-grant")

urlpatterns = [
    path("auth/login", api.LoginView.as_view(), name="auth-login"),
    path("auth/sso", api.SsoLoginView.as_view(), name="auth-sso"),
    path("auth/logout", api.LogoutView.as_view(), name="auth-logout"),
    path("auth/password", api.PasswordChangeView.as_view(), name="auth-password"),
    path("auth/otp/devices", api.OtpDeviceListCreateView.as_view(), name="otp-devices"),
    path(
        "auth/otp/devices/<int:device_id>/confirm",
        api.OtpDeviceConfirmView.as_view(),
        name="otp-device-confirm",
    ),
    path("users/<int:user_id>/propose-oh-lead", api.ProposeLeadView.as_view(), name="propose-lead"),
    path(
        "oh/clinicians/<int:user_id>/recover",
        api.ClinicianRecoverView.as_view(),
        name="oh-clinician-recover",
    ),
    *router.urls,
]
