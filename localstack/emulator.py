"""The local stack's AWS emulator for every service but DynamoDB: moto's
server (SQS, EventBridge, KMS, SES, SSM, Cognito user pools). DynamoDB and
its streams are dynoxide's; the local stack routes each request to the one
that serves it.

Two changes make it keep up with a crowd of shoppers:
- moto's EventBridge compiles the JSONPath of every target's input paths
  anew for every event it delivers (a parser generator run each time: most
  of its time under load); here each path is compiled once.
- It logs no line per request (the local stack shows the requests that
  matter; the emulator's log keeps errors).

Usage: emulator.py [-H HOST] [-p PORT]; like moto_server, it prints
" * Running on http://HOST:PORT" once it listens.
"""

import argparse
import functools
import signal
import sys

import jsonpath_ng.ext
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import WSGIRequestHandler, run_simple


def compile_each_path_once():
    # EventTemplateParser imports `parse` from jsonpath_ng.ext at each call.
    jsonpath_ng.ext.parse = functools.lru_cache(maxsize=1024)(jsonpath_ng.ext.parse)


def log_no_requests():
    WSGIRequestHandler.log_request = lambda *args, **kwargs: None


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, default=0)
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    compile_each_path_once()
    log_no_requests()
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
