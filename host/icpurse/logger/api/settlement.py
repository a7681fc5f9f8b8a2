"""Routes of settlement and of the feeds: vouchers from the issuer, payers' journals, stamps,
in-doubt payments, recoveries, and the ledger the audit reads."""

from starlette.responses import JSONResponse
from starlette.routing import Route

from icpurse.logger.api.records import MAX_PAGE
from icpurse.logger.api.requests import (
    BadRequest,
    card_id,
    endpoint,
    hex_list,
    off_loop,
    page,
    read_json,
    unhex,
)
from icpurse.logger.service.journals import MAX_JOURNAL_UPLOAD
from icpurse.logger.service.settlement import check_reason
from icpurse.logger.storage.tables import LEDGER_TABLES, BadCursor, cursor_of

# The longest cursor of a ledger table: a card id or payment key in hex and a sequence.
MAX_CURSOR = 100


def routes(service):
    return [
        Route("/v1/vouchers", endpoint(post_voucher, service), methods=["POST"]),
        Route("/v1/payments", endpoint(post_payments, service), methods=["POST"]),
        Route("/v1/in-doubt", endpoint(in_doubt, service), methods=["GET"]),
        Route("/v1/stamps", endpoint(post_stamp, service), methods=["POST"]),
        Route("/v1/recoveries", endpoint(post_recovery, service), methods=["POST"]),
        Route("/v1/ledger", endpoint(ledger, service), methods=["GET"]),
        Route("/v1/ledger/{table}", endpoint(ledger_table, service), methods=["GET"]),
    ]


async def post_voucher(service, request):
    body = await read_json(request)
    data = unhex(body.get("voucher"), "voucher")
    reason, reference = check_reason(body.get("reason"), body.get("reference"))
    card = await service.sequencer.run_alone(lambda: service.add_voucher(data, reason, reference))
    return JSONResponse({"card_id": card.hex(), "reason": reason})


async def post_payments(service, request):
    body = await read_json(request)
    data = hex_list(body, "payments", MAX_JOURNAL_UPLOAD)
    results = await service.sequencer.run_alone(lambda: service.add_payments(data))
    return JSONResponse({"results": results})


async def post_stamp(service, request):
    body = await read_json(request)
    card = card_id(body.get("card_id"))
    counter = body.get("counter")
    if isinstance(counter, float) and counter.is_integer():
        # JSON has one number type: 7.0 is the integer 7 to the API's description too.
        counter = int(counter)
    if not isinstance(counter, int) or isinstance(counter, bool) or not 0 <= counter < 2**32:
        raise BadRequest(400, "counter must be a payer counter, 0 to 4294967295")
    stamp = await service.sequencer.run_alone(lambda: service.stamp(card, counter))
    return JSONResponse({"stamp": stamp.hex()})


async def in_doubt(service, request):
    text = request.query_params.get("card")
    card = None if text is None else card_id(text)
    return JSONResponse({"payments": await off_loop(service.in_doubt, card)})


async def post_recovery(service, request):
    body = await read_json(request)
    old = card_id(body.get("card_id"))
    new = card_id(body.get("successor"))
    statement = await service.sequencer.run_alone(lambda: service.recover(old, new))
    return JSONResponse({"statement": statement.hex()})


async def ledger(service, request):
    return JSONResponse(await off_loop(service.ledger))


async def ledger_table(service, request):
    table = request.path_params["table"]
    if table not in LEDGER_TABLES:
        raise BadRequest(404, "no ledger table %r" % table)
    after = request.query_params.get("after")
    if after is not None and len(after) > MAX_CURSOR:
        raise BadRequest(400, "a cursor has at most %d characters" % MAX_CURSOR)
    try:
        rows = await off_loop(service.table_page, table, after, MAX_PAGE)
    except BadCursor as exc:
        raise BadRequest(400, str(exc)) from None
    following = cursor_of(table, rows[-1]) if len(rows) == MAX_PAGE else None
    return page(LEDGER_TABLES[table], rows, following)
