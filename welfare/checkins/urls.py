from django.urls import path

from welfare.checkins import api
from welfare.core.routers import ApiRouter

router = ApiRouter()
router.register("checkins", api.CheckinViewSet, basename="checkin")
router.register("incidents", api.IncidentViewSet, basename="incident")

urlpatterns = [
    path("me/checkins.ics", api.MyCalendarView.as_view(), name="my-calendar"),
    path("me/calendar-key", api.CalendarKeyView.as_view(), name="calendar-key"),
    path("calendar/<str:key>.ics", api.CalendarFeedView.as_view(), name="calendar-feed"),
    *router.urls,
]
