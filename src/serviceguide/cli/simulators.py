"""``serviceguide ko-simulator``: a stand-in for the demo networks' KO (direct activation and
ON-API 2.4), for trying the guide and the agent without a real network; ``sp-simulator``: a
stand-in for the demo TLs' own ON-API 2.6 endpoints (the orders the guide pushes to them)."""

from __future__ import annotations

from typing import Annotated

import typer

from serviceguide.cli.common import console, log_config


def ko_simulator(
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port to listen on")] = 8001,
    fail_rate: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="share of ON-API orders ending DONE_FAILED")
    ] = 0.0,
    delay: Annotated[
        float, typer.Option(min=0.0, help="seconds an ON-API order stays unfinished")
    ] = 1.0,
    username: Annotated[str, typer.Option(help="ON-API Basic auth user")] = "sim",
    password: Annotated[str, typer.Option(help="ON-API Basic auth password")] = "sim",  # noqa: S107
) -> None:
    """Simulate the demo networks' KO: direct activation and ON-API 2.4 orders."""
    import uvicorn

    from serviceguide.simulator.app import create_simulator
    from serviceguide.simulator.onapi import SimConfig

    config = SimConfig(username=username, password=password, fail_rate=fail_rate, delay=delay)
    console.print(f"KO simulator: http://{host}:{port}/{{coid}}/activation (direct activation)")
    console.print(f"              http://{host}:{port}/{{coid}}/onapi/2.4/orders/ (ON-API)")
    uvicorn.run(create_simulator(config=config), host=host, port=port, log_config=log_config())


def sp_simulator(
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port to listen on")] = 8002,
    reject_rate: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="share of pushed orders answered REJECTED")
    ] = 0.0,
    delay: Annotated[float, typer.Option(min=0.0, help="seconds before each answer")] = 0.0,
) -> None:
    """Simulate the demo TLs' ON-API 2.6 endpoints: order, activationnotice, products."""
    import uvicorn

    from serviceguide.simulator.app import create_sp_simulator
    from serviceguide.simulator.sp import SpSimConfig

    config = SpSimConfig(reject_rate=reject_rate, delay=delay)
    console.print(f"SP simulator: http://{host}:{port}/{{xsp}}/onapi/2.6/ (Basic sim:sim)")
    uvicorn.run(create_sp_simulator(config), host=host, port=port, log_config=log_config())
