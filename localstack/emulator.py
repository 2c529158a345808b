"""The local stack's AWS emulator: moto's server, with DynamoDB requests
applied one at a time.

moto serves each request on its own thread and applies a DynamoDB write as
read, change, store without a lock, so two concurrent `ADD`s or conditional
writes to one item can lose an update. DynamoDB applies every write to an
item atomically, and the shop relies on that (cart lines, stock, one charge
per order), so here DynamoDB and DynamoDB Streams requests take one lock.
Other services (SQS long polls among them) stay concurrent.

A cancelled TransactWriteItems is rolled back by moto swapping in deep
copies of its tables, stream shard included: stream readers keep the old
shard and never see another record, and every transaction copies the
whole stream. Here a table's stream shard is shared by its copies, and the
records a cancelled transaction added are dropped, as DynamoDB never
streams a cancelled write.

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
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.table import StreamShard
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


def keep_streams_through_rollbacks():
    StreamShard.__deepcopy__ = lambda shard, memo: shard
    transact = DynamoDBBackend.transact_write_items

    def transact_write_items(self, *args, **kwargs):
        shards = {
            name: table.stream_shard
            for name, table in self.tables.items()
            if table.stream_shard is not None
        }
        streamed = {name: len(shard.items) for name, shard in shards.items()}
        try:
            return transact(self, *args, **kwargs)
        except Exception:
            for name, shard in shards.items():
                del shard.items[streamed[name]:]
            raise

    DynamoDBBackend.transact_write_items = transact_write_items


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, default=0)
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    keep_streams_through_rollbacks()
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
