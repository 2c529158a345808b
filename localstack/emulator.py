"""The local stack's AWS emulator: moto's server, with DynamoDB requests
applied one at a time.

moto serves each request on its own thread and applies a DynamoDB write as
read, change, store without a lock, so two concurrent `ADD`s or conditional
writes to one item can lose an update. DynamoDB applies every write to an
item atomically, and the shop relies on that (cart lines, stock, one charge
per order), so here DynamoDB and DynamoDB Streams requests take one lock.
Other services (SQS long polls among them) stay concurrent.

Usage: emulator.py [-H HOST] [-p PORT]; like moto_server, it prints
" * Running on http://HOST:PORT" once it listens.
"""

import argparse
import signal
import sys
import threading

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import run_simple

SERIALIZED_TARGETS = ("DynamoDB_", "DynamoDBStreams_")


def serialize_dynamodb(app):
    lock = threading.Lock()

    def application(environ, start_response):
        if environ.get("HTTP_X_AMZ_TARGET", "").startswith(SERIALIZED_TARGETS):
            with lock:
                return list(app(environ, start_response))
        return app(environ, start_response)

    return application


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, default=0)
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    app = DomainDispatcherApplication(create_backend_app)
    run_simple(
        args.host,
        args.port,
        serialize_dynamodb(app),
        threaded=True,
        request_handler=MotoRequestHandler,
    )


if __name__ == "__main__":
    main()
