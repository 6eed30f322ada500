"""One router for every app: collections and items end in a slash (DRF's habit), actions on
them do not, as the contract writes them (`/exposures/{id}/amend`, `/exposures/import`).

Routes are Django paths and items are looked up by number (`<int:pk>`): with DRF's default
(any text) `/exposures/import/` would be the item "import", answering 405 to a POST, where
it is the import action's address with a slash added and answers the 404 that names
`/exposures/import` (backend.views.api_not_found). A prefix names its own ids the same way
(`officers/<int:officer_id>/postings`)."""

from __future__ import annotations

from rest_framework.routers import DynamicRoute, Route, SimpleRouter


def _without_trailing_slash(route: Route | DynamicRoute) -> Route | DynamicRoute:
    if isinstance(route, DynamicRoute):
        return route._replace(url=route.url.replace("{trailing_slash}", ""))
    return route


class ApiRouter(SimpleRouter):
    routes = [_without_trailing_slash(route) for route in SimpleRouter.routes]

    def __init__(self) -> None:
        super().__init__(use_regex_path=False)
        self._default_value_pattern = "int"  # a viewset's lookup_value_converter still wins
