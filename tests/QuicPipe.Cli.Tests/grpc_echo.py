"""A gRPC echo server and client with no generated code (generic handlers, raw bytes), for ProxyCommandTests.

server: listens on 127.0.0.1 (port 0), prints the port on one line, serves until killed.
client TARGET PROXY HEXPAYLOAD: one unary call through the HTTP CONNECT proxy (channel option grpc.http_proxy),
prints the answer in hex. Exit 0 only when the call succeeded.
"""
import sys
from concurrent import futures

import grpc

METHOD = "/quicpipe.test.Echo/Echo"


def serve():
    handler = grpc.method_handlers_generic_handler(
        "quicpipe.test.Echo",
        {"Echo": grpc.unary_unary_rpc_method_handler(lambda request, context: b"echo:" + request)},
    )
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    server.add_generic_rpc_handlers((handler,))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    print(port, flush=True)
    server.wait_for_termination()


def call(target, proxy, payload_hex):
    # grpc.enable_http_proxy defaults on; the option names the proxy explicitly so no environment leaks in.
    options = [("grpc.http_proxy", proxy)]
    with grpc.insecure_channel(target, options=options) as channel:
        echo = channel.unary_unary(METHOD)
        answer = echo(bytes.fromhex(payload_hex), timeout=30)
    print(answer.hex(), flush=True)


if __name__ == "__main__":
    if sys.argv[1] == "server":
        serve()
    else:
        call(sys.argv[2], sys.argv[3], sys.argv[4])
