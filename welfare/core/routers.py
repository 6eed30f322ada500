"""One router for every app: collections and items end in a slash (DRF's habit), actions on
them do not, as the contract writes them (`/exposures/{id}/amend`, `/exposures/import`)."""

from __future__ import annotations

from rest_framework.routers import DynamicRoute, Route, SimpleRouter


def _without_trailing_slash(route: Route | DynamicRoute) -> Route | DynamicRoute:
    if isinstance(route, DynamicRoute):
        return route._replace(url=route.url.replace("{trailing_slash}", ""))
    return route


class ApiRouter(SimpleRouter):
    routes = [_without_trailing_slash(route) for route in SimpleRouter.routes]
