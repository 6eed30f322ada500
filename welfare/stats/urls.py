from django.urls import path

from welfare.stats import api

urlpatterns = [
    path("stats/exposure", api.ExposureStatsView.as_view(), name="stats-exposure"),
    path("stats/checkins", api.CheckinStatsView.as_view(), name="stats-checkins"),
    path("stats/alerts", api.AlertStatsView.as_view(), name="stats-alerts"),
    path("stats/rotation", api.RotationStatsView.as_view(), name="stats-rotation"),
]
