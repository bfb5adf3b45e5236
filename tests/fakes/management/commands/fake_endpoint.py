"""manage.py fake_endpoint: serve the fake hosted image endpoint on 127.0.0.1 for manual runs."""

import json
import time

from django.core.management.base import BaseCommand, CommandError

from tests.fakes.endpoint import FAULT_KINDS, FakeImageEndpoint


class Command(BaseCommand):
    help = (
        "Serve a fake of the hosted POST /v1/images/generations on 127.0.0.1 (validates bodies "
        "against generation/spec/, answers with real PNGs). Point QWEN_IMAGE_API_BASE at it."
    )

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=8001)
        parser.add_argument(
            "--latency", type=float, default=0.0, help="Seconds to wait before each answer."
        )
        parser.add_argument(
            "--fault",
            action="append",
            default=[],
            metavar="KIND[:N]",
            help="Queue N (default 1) scripted faults, in order; repeatable. Kinds: "
            + ", ".join(FAULT_KINDS),
        )
        parser.add_argument(
            "--output-format",
            choices=["url", "b64_json"],
            help="Answer in this format whatever the request asks.",
        )
        parser.add_argument("--api-key", help="Accept only this Bearer key (default: any).")
        parser.add_argument(
            "--lifetime", type=float, default=3600.0, help="Stop after this many seconds."
        )
        parser.add_argument(
            "--log", help="Append each received request (and whether it validates) as JSON lines."
        )

    def handle(self, *args, port, latency, fault, output_format, api_key, lifetime, log, **kw):
        endpoint = FakeImageEndpoint(
            port=port,
            latency=latency,
            output_format=output_format,
            api_key=api_key,
            max_lifetime=lifetime,
        )
        for spec in fault:
            kind, _, times = spec.partition(":")
            try:
                endpoint.push(kind, times=int(times or 1))
            except ValueError as exc:
                raise CommandError(str(exc)) from None
        try:
            endpoint.start()
        except OSError as exc:
            raise CommandError(f"Cannot listen on 127.0.0.1:{port}: {exc}") from None
        self.stdout.write(
            f"Fake image endpoint on {endpoint.url}/v1/images/generations "
            f"(latency {latency:g} s, {endpoint.pending_faults} faults queued, "
            f"stops in {lifetime:g} s). Received requests: {endpoint.url}/_fake/requests"
        )
        seen = 0
        try:
            while endpoint.running:
                time.sleep(0.2)
                for request in endpoint.requests[seen:]:
                    seen += 1
                    verdict = "valid" if request.valid else "INVALID: " + "; ".join(request.errors)
                    self.stdout.write(f"request {seen} ({request.fault}): {verdict}")
                    if log:
                        with open(log, "a", encoding="utf-8") as handle:
                            handle.write(json.dumps(request.as_dict()) + "\n")
        except KeyboardInterrupt:
            pass
        finally:
            endpoint.stop()
