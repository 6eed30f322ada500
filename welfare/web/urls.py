from django.urls import path

from welfare.web import incidents, items, passkeys, sso, views

app_name = "web"

urlpatterns = [
    path("", views.home_view, name="home"),
    path("login", views.login_view, name="login"),
    path("login/sso", sso.SsoStartView.as_view(), name="sso-start"),
    path("login/sso/callback", sso.SsoCallbackView.as_view(), name="sso-callback"),
    path("login/code", sso.login_code_view, name="login-code"),
    path("login/passkey", passkeys.login_passkey, name="login-passkey"),
    path("login/passkey/begin", passkeys.login_passkey_begin, name="login-passkey-begin"),
    path("login/passkey/complete", passkeys.login_passkey_complete, name="login-passkey-complete"),
    path("logout", views.logout_view, name="logout"),
    path("enrol", views.enrol_view, name="enrol"),
    path("password", views.password_view, name="password"),
    path("passkeys", passkeys.passkeys_page, name="passkeys"),
    path(
        "passkeys/register/begin", passkeys.passkeys_register_begin, name="passkeys-register-begin"
    ),
    path(
        "passkeys/register/complete",
        passkeys.passkeys_register_complete,
        name="passkeys-register-complete",
    ),
    path("passkeys/<int:passkey_id>/remove", passkeys.passkey_remove, name="passkey-remove"),
    path("passkeys/<int:passkey_id>/rename", passkeys.passkey_rename, name="passkey-rename"),
    path("language", views.language_view, name="language"),
    path("help", items.help_view, name="help"),
    path("inbox", items.inbox, name="inbox"),
    path("inbox/read", items.inbox_read, name="inbox-read"),
    path("inbox/settings", items.inbox_settings, name="inbox-settings"),
    path("inbox/<int:notification_id>", items.inbox_open, name="inbox-open"),
    path("alerts/acknowledge", views.alerts_acknowledge, name="alerts-acknowledge"),
    path("alerts/<int:alert_id>", items.alert_page, name="alert"),
    path("checkins/<int:checkin_id>", items.checkin_page, name="checkin"),
    path("reports/<int:report_id>", items.report_page, name="report"),
    path("me/", views.officer_home, name="officer-home"),
    path("me/sessions", views.officer_log, name="officer-log"),
    path("me/self-referral", views.officer_self_refer, name="officer-self-refer"),
    path("me/incidents", incidents.officer_incident, name="officer-incident"),
    path("me/records", views.officer_records, name="officer-records"),
    path("me/self-check", views.self_check, name="self-check"),
    path("me/self-check/<str:key>", views.self_check_form, name="self-check-form"),
    path("me/calendar-key", views.calendar_key, name="calendar-key"),
    path(
        "me/checkins/<int:checkin_id>/<str:key>", views.officer_screening, name="officer-screening"
    ),
    path(
        "me/reports/<int:report_id>/<str:action>",
        views.officer_report_action,
        name="officer-report",
    ),
    path("unit/", views.supervisor_home, name="supervisor-home"),
    path("unit/import", views.supervisor_import, name="supervisor-import"),
    path("unit/incidents", incidents.supervisor_incident, name="supervisor-incident"),
    path("alerts/<int:alert_id>/<str:action>", views.alert_action, name="alert-action"),
    path("rotation/<int:posting_id>", views.rotation_decision, name="rotation-decision"),
    path("oh/", views.oh_home, name="oh-home"),
    path("oh/cases/", views.oh_cases, name="oh-cases"),
    path("oh/cases/<int:officer_id>/assign", views.oh_case_assign, name="oh-case-assign"),
    path("oh/clinicians", views.oh_clinicians, name="oh-clinicians"),
    path("oh/clinicians/<int:user_id>/lead", views.oh_clinician_lead, name="oh-clinician-lead"),
    path(
        "oh/clinicians/<int:user_id>/recover",
        views.oh_clinician_recover,
        name="oh-clinician-recover",
    ),
    path("oh/role-grants/<int:grant_id>/<str:action>", views.oh_grant_decide, name="oh-grant"),
    path("oh/cases/<int:officer_id>", views.oh_case, name="oh-case"),
    path("oh/cases/<int:officer_id>/notes", views.oh_note, name="oh-note"),
    path("oh/cases/<int:officer_id>/reports", views.oh_report, name="oh-report"),
    path("oh/checkins/<int:checkin_id>/<str:action>", views.oh_checkin_action, name="oh-checkin"),
    path(
        "oh/restrictions/<int:restriction_id>/lift",
        views.oh_restriction_lift,
        name="oh-restriction-lift",
    ),
    path(
        "oh/reports/<int:report_id>/<str:action>", views.oh_report_action, name="oh-report-action"
    ),
    path("hr/", views.hr_home, name="hr-home"),
    path("hr/download", views.hr_download, name="hr-download"),
]
