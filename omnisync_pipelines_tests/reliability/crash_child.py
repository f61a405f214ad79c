"""A sync process that kills itself (SIGKILL: no cleanup, no finally, no flush) at an injected point.

`OMNISYNC_CRASH_AT=<when>:<METHOD>:<path substring>[#<body substring>]:<n>` with <when> `before` (the
n-th matching request is about to be sent: the ledger says `retrying`, the system has nothing) or
`after` (the n-th matching request was answered with success: the system applied it, the ledger does
not know). The body substring tells requests to one endpoint apart (GraphQL: which mutation).
Usage: python crash_child.py <job>; exit code -9 when the crash point was reached.
"""

import os
import signal
import sys

from omnisync_pipelines.rest import session


def install(spec: str) -> None:
    when, method, fragment, nth = spec.split(":", 3)
    path, _, body = fragment.partition("#")
    seen = {"n": 0}
    original = session.ApiSession._attempt

    def matches(request) -> bool:
        return request.method == method and path in request.url.path and body.encode() in request.content

    def tick() -> None:
        seen["n"] += 1
        if seen["n"] == int(nth):
            os.kill(os.getpid(), signal.SIGKILL)

    async def attempt(self, request, *args, **kwargs):
        if when == "before" and matches(request):
            tick()
        response = await original(self, request, *args, **kwargs)
        if when == "after" and matches(request) and response.status_code < 300:
            tick()
        return response

    session.ApiSession._attempt = attempt


if __name__ == "__main__":
    if os.environ.get("OMNISYNC_CRASH_AT"):
        install(os.environ["OMNISYNC_CRASH_AT"])
    from omnisync_pipelines.runs import run_job

    outcome = run_job(sys.argv[1])
    print(outcome.summary())
    sys.exit(0 if outcome.success else 1)
