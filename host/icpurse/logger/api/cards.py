"""Routes of cards: a card's history and balance, its newest voucher, alerts, and the CA's
revocation list."""

from starlette.responses import JSONResponse
from starlette.routing import Route

from icpurse.logger.api.requests import (
    BadRequest,
    card_id,
    endpoint,
    off_loop,
    query_int,
    read_json,
    unhex,
)
from icpurse.logger.service.ledger import HISTORY_PAGE


def routes(service):
    return [
        Route("/v1/cards/{card_id}", endpoint(card, service), methods=["GET"]),
        Route("/v1/alerts", endpoint(alerts, service), methods=["GET"]),
        Route("/v1/revocation", endpoint(get_revocation, service), methods=["GET"]),
        Route("/v1/revocation", endpoint(post_revocation, service), methods=["POST"]),
        Route("/v1/cards/{card_id}/voucher", endpoint(card_voucher, service), methods=["GET"]),
    ]


async def card(service, request):
    card = card_id(request.path_params["card_id"])
    after = query_int(request, "after") if "after" in request.query_params else -1
    info = await off_loop(service.card, card, after, HISTORY_PAGE)
    if not info["known"] and not info["history"]:
        raise BadRequest(404, "unknown card %s" % card.hex())
    return JSONResponse(info)


async def alerts(service, request):
    return JSONResponse(await off_loop(service.alerts))


async def get_revocation(service, request):
    record = await off_loop(service.revocation)
    if record is None:
        raise BadRequest(404, "no revocation list yet")
    return JSONResponse({"revocation": record.hex()})


async def post_revocation(service, request):
    body = await read_json(request)
    rl = await off_loop(service.set_revocation, unhex(body.get("revocation"), "revocation"))
    return JSONResponse({"sequence": rl.sequence, "revoked": [c.hex() for c in rl.revoked]})


async def card_voucher(service, request):
    card = card_id(request.path_params["card_id"])
    record = await off_loop(service.latest_voucher, card)
    if record is None:
        raise BadRequest(404, "no voucher for card %s" % card.hex())
    return JSONResponse({"voucher": record.hex()})
