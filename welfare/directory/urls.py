"""/scim/v2 (mounted in backend/urls.py). Every path under it answers SCIM's JSON."""

from django.urls import path, re_path

from welfare.directory import api

app_name = "scim"

urlpatterns = [
    path("ServiceProviderConfig", api.ServiceProviderConfigView.as_view(), name="config"),
    path("ResourceTypes", api.ResourceTypesView.as_view(), name="resource-types"),
    path("ResourceTypes/<str:resource_id>", api.ResourceTypesView.as_view(), name="resource-type"),
    path("Schemas", api.SchemasView.as_view(), name="schemas"),
    path("Schemas/<str:resource_id>", api.SchemasView.as_view(), name="schema"),
    path("Users", api.UsersView.as_view(), name="users"),
    path("Users/.search", api.SearchView.as_view(kind="Users"), name="users-search"),
    path("Users/<str:resource_id>", api.UserView.as_view(), name="user"),
    path("Groups", api.GroupsView.as_view(), name="groups"),
    path("Groups/.search", api.SearchView.as_view(kind="Groups"), name="groups-search"),
    path("Groups/<str:resource_id>", api.GroupView.as_view(), name="group"),
    path(".search", api.NotImplementedView.as_view(), name="search"),
    path("Bulk", api.NotImplementedView.as_view(), name="bulk"),
    path("Me", api.NotImplementedView.as_view(), name="me"),
    re_path(r"^(?P<rest>.*)$", api.NotFoundView.as_view(), name="not-found"),
]
