#!/usr/bin/env python3
"""An agent that is not vigil's, written from docs/protocol/amqp.md alone, with Debian's
python3-pika: it declares the exchanges and its data queue with the documented
arguments, announces itself in JSON, answers discovery requests, and publishes JSON
batches of one series for a while. tests/integration/distributed_test.cc runs it
against the real RabbitMQ and looks for its readings in vigil's store.

Usage: third_party_agent.py AMQP_URL AGENT_ID SECONDS
Prints "published N samples" at the end.
"""
import json
import sys
import time

import pika


def main():
    url, agent, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
    connection = pika.BlockingConnection(pika.URLParameters(url))
    channel = connection.channel()
    channel.confirm_delivery()

    # The topology, as the protocol doc states it (declaring is idempotent).
    for exchange, kind in (("vigil.discovery", "fanout"), ("vigil.discovery.requests", "fanout"),
                           ("vigil.events", "topic"), ("vigil.dead", "fanout")):
        channel.exchange_declare(exchange, kind, durable=True)
    queue = "vigil.data." + agent
    channel.queue_declare(queue, durable=True, arguments={
        "x-max-length": 1024,
        "x-overflow": "reject-publish",
        "x-dead-letter-exchange": "vigil.dead",
        "x-queue-type": "classic",
    })
    requests = "vigil.agent." + agent
    channel.queue_declare(requests, durable=False, exclusive=True, auto_delete=True,
                          arguments={"x-max-length": 16, "x-overflow": "reject-publish"})
    channel.queue_bind(requests, "vigil.discovery.requests")

    json_message = pika.BasicProperties(content_type="application/json", delivery_mode=2)

    def announce():
        channel.basic_publish("vigil.discovery", "", json.dumps({
            "version": 1,
            "agent": agent,
            "queue": queue,
            "timestamp_ms": int(time.time() * 1000),
            "sensors": [{"name": "pika_temperature", "type": "external",
                         "labels": {"unit": "celsius"}, "interval_ms": 200}],
        }), json_message)

    announce()
    published = 0
    end = time.time() + seconds
    while time.time() < end:
        method, _, _ = channel.basic_get(requests, auto_ack=True)
        if method is not None:
            announce()
        batch = {"series": [{
            "labels": {"__name__": "pika_temperature", "agent": agent, "unit": "celsius"},
            "samples": [[int(time.time() * 1000), 20.0 + published % 10]],
        }]}
        channel.basic_publish("", queue, json.dumps(batch), json_message)  # confirmed
        published += 1
        time.sleep(0.2)
    connection.close()
    print("published %d samples" % published)


if __name__ == "__main__":
    main()
