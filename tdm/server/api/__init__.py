"""The HTTP layer: routers that parse a request, call one service and shape its answer."""
