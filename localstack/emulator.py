"""The local stack's AWS emulator for every service but DynamoDB: moto's
server (SQS, EventBridge, KMS, SES, SSM, Cognito user pools). DynamoDB and
its streams are dynoxide's; the local stack routes each request to the one
that serves it.

Usage: emulator.py [-H HOST] [-p PORT]; like moto_server, it prints
" * Running on http://HOST:PORT" once it listens.
"""

import argparse
import signal
import sys

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import run_simple


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
        app,
        threaded=True,
        request_handler=MotoRequestHandler,
    )


if __name__ == "__main__":
    main()
