"""Routes of the log's records: the ready-ticket and status, submissions, leaves."""

from starlette.responses import JSONResponse
from starlette.routing import Route

from icpurse.logger.api.requests import (
    BadRequest,
    endpoint,
    hex_list,
    off_loop,
    page,
    read_json,
    start,
    unhex,
)
from icpurse.logger.service.logger_service import MAX_BATCH_RECORDS
from icpurse.logger.storage.tables import LEAF_COLUMNS
from purse import proto

MAX_PAGE = 1000
# The paths whose POST the Guard (guard.py) answers in front of Starlette.
SUBMIT_PATHS = ("/v1/record", "/v1/records")


def routes(service):
    return [
        Route("/v1/status", endpoint(status, service), methods=["GET"]),
        Route("/v1/record", endpoint(submit_one, service), methods=["POST"]),
        Route("/v1/records", endpoint(submit_batch, service), methods=["POST"]),
        Route("/v1/records/{index:int}", endpoint(leaf, service), methods=["GET"]),
        Route("/v1/leaves", endpoint(leaves, service), methods=["GET"]),
    ]


async def status(service, request):
    # Ticket nonces are RANDOM_SIZE bytes; a longer hex string is refused as not that size.
    nonce = unhex(request.query_params.get("nonce", ""), "nonce", 64)
    if len(nonce) != proto.RANDOM_SIZE:
        raise BadRequest(400, "nonce must be %d bytes (%d hex digits)"
                         % (proto.RANDOM_SIZE, 2 * proto.RANDOM_SIZE))  # fmt: skip
    ticket = service.ticket(nonce)
    return JSONResponse(
        {"ticket": ticket.hex(), "ltime": service.ltime(), "tree_size": service.tree_size()}
    )


async def submit_one(service, request):
    body = await read_json(request)
    data = unhex(body.get("record"), "record")
    (result,) = await service.submit([data])
    return JSONResponse(result, status_code=result["status"])


async def submit_batch(service, request):
    body = await read_json(request)
    data = hex_list(body, "records", MAX_BATCH_RECORDS)
    return JSONResponse({"results": await service.submit(data)})


async def leaf(service, request):
    index = request.path_params["index"]
    if index >= 2**63:
        # No tree has that many leaves, and the database's integers stop there.
        raise BadRequest(404, "no leaf %d" % index)
    try:
        record, receipt = await off_loop(service.leaf, index)
    except KeyError:
        raise BadRequest(404, "no leaf %d" % index) from None
    return JSONResponse({"leaf_index": index, "record": record.hex(), "receipt": receipt.hex()})


async def leaves(service, request):
    first = start(request)
    rows = await off_loop(service.leaves_page, first, MAX_PAGE)
    following = rows[-1][0] + 1 if len(rows) == MAX_PAGE else None
    return page(LEAF_COLUMNS, rows, following, start=first)
