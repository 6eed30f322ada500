"""The floor for the logging benchmark: the same server, the same row, nothing else.

Mounted only when BENCH_BARE_VIEW is set (`make bench` sets it for its own server): no
authentication, validation, overlap message, daily totals or audit; one INSERT with psycopg.
"""

from __future__ import annotations

import json

from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

INSERT = """
    INSERT INTO exposure_exposuresession (
        officer_id, lineage, version, state, started_at, ended_at, material, category, violent,
        items_reviewed, activity, note, source, client_ref, recorded_at, recorded_by_id,
        reason, void_reason
    ) VALUES (
        %(officer)s, gen_random_uuid(), 1, 'current', %(started_at)s, %(ended_at)s,
        %(material)s, %(category)s, %(violent)s, %(items_reviewed)s, '', '', 'self',
        %(client_ref)s, now(), %(user)s, '', ''
    ) RETURNING id
"""


@csrf_exempt
def bare_exposure(request: HttpRequest) -> HttpResponse:
    body = json.loads(request.body)
    params = {
        "officer": int(request.headers["X-Bench-Officer"]),
        "user": int(request.headers["X-Bench-User"]),
        "started_at": body["started_at"],
        "ended_at": body["ended_at"],
        "material": body["material"],
        "category": body["category"],
        "violent": body.get("violent", False),
        "items_reviewed": body.get("items_reviewed"),
        "client_ref": body["client_ref"],
    }
    with connection.cursor() as cursor:
        cursor.execute(INSERT, params)
        (session_id,) = cursor.fetchone()
    return JsonResponse({"id": session_id, "client_ref": body["client_ref"]}, status=201)
