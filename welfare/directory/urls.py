"""/scim/v2 (mounted at /scim/ in backend/urls.py). Every path under /scim/ answers SCIM's
JSON, errors included."""

from django.urls import path, re_path

from welfare.directory import api

app_name = "scim"

urlpatterns = [
    path("v2/ServiceProviderConfig", api.ServiceProviderConfigView.as_view(), name="config"),
    path("v2/ResourceTypes", api.ResourceTypesView.as_view(), name="resource-types"),
    path(
        "v2/ResourceTypes/<str:resource_id>", api.ResourceTypesView.as_view(), name="resource-type"
    ),
    path("v2/Schemas", api.SchemasView.as_view(), name="schemas"),
    path("v2/Schemas/<str:resource_id>", api.SchemasView.as_view(), name="schema"),
    path("v2/Users", api.UsersView.as_view(), name="users"),
    path("v2/Users/.search", api.SearchView.as_view(kind="Users"), name="users-search"),
    path("v2/Users/<str:resource_id>", api.UserView.as_view(), name="user"),
    path("v2/Groups", api.GroupsView.as_view(), name="groups"),
    path("v2/Groups/.search", api.SearchView.as_view(kind="Groups"), name="groups-search"),
    path("v2/Groups/<str:resource_id>", api.GroupView.as_view(), name="group"),
    path("v2/.search", api.NotImplementedView.as_view(), name="search"),
    path("v2/Bulk", api.NotImplementedView.as_view(), name="bulk"),
    path("v2/Me", api.NotImplementedView.as_view(), name="me"),
    re_path(r"^(?P<rest>.*)$", api.NotFoundView.as_view(), name="not-found"),
]
