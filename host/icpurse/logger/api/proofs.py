"""Routes of the Merkle tree: the signed checkpoint, inclusion and consistency proofs."""

from starlette.responses import JSONResponse
from starlette.routing import Route

from icpurse.logger.api.requests import BadRequest, endpoint, off_loop, query_int
from purse.records.checkpoint import Checkpoint


def routes(service):
    return [
        Route("/v1/checkpoint", endpoint(checkpoint, service), methods=["GET"]),
        Route("/v1/proofs/inclusion", endpoint(inclusion, service), methods=["GET"]),
        Route("/v1/proofs/consistency", endpoint(consistency, service), methods=["GET"]),
    ]


async def checkpoint(service, request):
    record = await off_loop(service.checkpoint)
    cp = Checkpoint.decode(record)
    return JSONResponse(
        {"checkpoint": record.hex(), "tree_size": cp.tree_size, "root": cp.root.hex(),
         "ltime": cp.ltime}
    )  # fmt: skip


async def inclusion(service, request):
    index, size = query_int(request, "index"), query_int(request, "size", 1)
    if index >= size or size > service.tree_size():
        raise BadRequest(400, "need index < size <= the current tree size")
    proof = await off_loop(service.inclusion, index, size)
    return JSONResponse({"index": index, "size": size, "proof": [h.hex() for h in proof]})


async def consistency(service, request):
    old, new = query_int(request, "old", 1), query_int(request, "new", 1)
    if old > new or new > service.tree_size():
        raise BadRequest(400, "need 1 <= old <= new <= the current tree size")
    proof = await off_loop(service.consistency, old, new)
    return JSONResponse({"old": old, "new": new, "proof": [h.hex() for h in proof]})
