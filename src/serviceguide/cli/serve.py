"""``serviceguide serve``: the web pages and APIs under uvicorn, with the outbox relay in the
background of each worker."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from serviceguide.cli.common import log_config
from serviceguide.observability import metrics
from serviceguide.settings import get_settings


def serve(
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port to listen on")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="worker processes")] = 1,
) -> None:
    """Serve the web pages and APIs, and deliver mails and webhooks in the background."""
    import uvicorn

    settings = get_settings()
    settings.resolved_secret_key()  # create it once, before workers race for it
    # The workers' metric files (docs/operations.md): this port's own directory, emptied now,
    # before any worker starts; every worker inherits the setting.
    metrics.use_directory(metrics.serve_directory(settings.var_dir, port))
    options: dict[str, Any] = {
        "factory": True,
        "host": host,
        "port": port,
        "workers": workers,
        "access_log": False,  # the app logs requests itself, with credentials redacted
        "log_config": log_config(),  # applied in every worker process, not only the parent
        # X-Forwarded-For only from the proxies named; uvicorn would believe 127.0.0.1 by default.
        "proxy_headers": bool(settings.trusted_proxies),
        "forwarded_allow_ips": settings.trusted_proxies or None,
    }
    if workers == 1:
        uvicorn.run("serviceguide.app:create_app", **options)
    else:
        _serve_workers(uvicorn.Config("serviceguide.app:create_app", **options))


def _serve_workers(config: Any) -> None:
    """uvicorn's supervisor of worker processes, except that when it stops, the parent lets go
    of the listening socket as soon as it has told the workers to stop. Each worker closes its
    own copy first thing; the parent's copy would otherwise keep the port open while workers
    finish their requests and deliveries (up to notify.relay.STOP_GRACE_SECONDS), and a client
    connecting meanwhile would wait out its own timeout instead of being refused at once."""
    from uvicorn.supervisors import Multiprocess

    class Supervisor(Multiprocess):
        def terminate_all(self) -> None:
            super().terminate_all()
            for sock in self.sockets:
                sock.close()

    sock = config.bind_socket()
    try:
        Supervisor(config, sockets=[sock]).run()
    finally:
        sock.close()
