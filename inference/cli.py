"""`freechat inference ...`: serve a model, or build the demo model.

    freechat inference [serve] [--model ID_OR_PATH] [--host H] [--port P] ...
    freechat inference demo-model PATH [--seed N]
    freechat inference register --url http://HOST:PORT/v1 [--consul-url URL]

The bot's CLI calls `main(sys.argv[2:])`; `python -m inference` does the same.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from typing import Any

import httpx
import uvicorn

from .config import InferenceConfig
from .exceptions import ModelLoadError


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="freechat inference",
        description="FreeChat's OpenAI-compatible streaming inference service.",
        epilog="Without a subcommand, `serve` is meant: see `freechat inference serve -h`.",
    )
    commands = parser.add_subparsers(dest="command")
    serve = commands.add_parser("serve", help="serve a model over HTTP (default)")
    defaults = InferenceConfig()
    serve.add_argument("--model", default=defaults.model, help="HF id or local folder")
    serve.add_argument("--served-model-name", default=None)
    serve.add_argument("--host", default=defaults.host)
    serve.add_argument("--port", type=int, default=defaults.port)
    serve.add_argument("--device", default=defaults.device)
    serve.add_argument(
        "--dtype",
        default=defaults.dtype,
        choices=["auto", "float32", "bfloat16", "float16"],
    )
    serve.add_argument("--max-batch-size", type=int, default=defaults.max_batch_size)
    serve.add_argument("--kv-cache-tokens", type=int, default=defaults.kv_cache_tokens)
    serve.add_argument(
        "--max-prompt-tokens", type=int, default=defaults.max_prompt_tokens
    )
    serve.add_argument("--num-threads", type=int, default=None)
    serve.add_argument(
        "--prefill-chunk-tokens", type=int, default=defaults.prefill_chunk_tokens
    )
    serve.add_argument(
        "--prefix-cache-tokens",
        type=int,
        default=defaults.prefix_cache_tokens,
        help="prompt tokens kept for reuse by later prompts (0: off)",
    )
    serve.add_argument(
        "--no-fallback",
        action="store_true",
        help="fail instead of serving the demo model when --model cannot be loaded",
    )
    serve.add_argument("--demo-model-dir", default=defaults.demo_model_dir)
    serve.add_argument("--log-level", default="info")
    serve.add_argument(
        "--consul-url",
        default=None,
        help="register this instance with the Consul agent at this URL",
    )
    serve.add_argument("--consul-service", default="freechat-inference")
    serve.add_argument(
        "--advertise-address",
        default=None,
        help="address other hosts reach this instance at (default: --host)",
    )
    register = commands.add_parser(
        "register",
        help="keep an external OpenAI-compatible server in Consul while it is healthy",
    )
    register.add_argument(
        "--url", required=True, help="its base URL, e.g. http://h:8000/v1"
    )
    register.add_argument("--consul-url", default="http://127.0.0.1:8500")
    register.add_argument("--consul-service", default="freechat-inference")
    register.add_argument("--interval", type=float, default=5.0, help="seconds")
    register.add_argument(
        "--unhealthy-after",
        type=int,
        default=2,
        help="failed checks in a row before it is deregistered",
    )
    register.add_argument("--instance-id", default=None)
    demo = commands.add_parser("demo-model", help="build the tiny offline demo model")
    demo.add_argument("path")
    demo.add_argument("--seed", type=int, default=0)
    return parser


def _serve(args: argparse.Namespace) -> int:
    from .server import create_app
    from .service import InferenceService

    config = InferenceConfig(
        model=args.model,
        served_model_name=args.served_model_name,
        host=args.host,
        port=args.port,
        device=args.device,
        dtype=args.dtype,
        max_batch_size=args.max_batch_size,
        kv_cache_tokens=args.kv_cache_tokens,
        max_prompt_tokens=args.max_prompt_tokens,
        num_threads=args.num_threads,
        prefill_chunk_tokens=args.prefill_chunk_tokens,
        prefix_cache_tokens=args.prefix_cache_tokens,
        fallback_to_demo=not args.no_fallback,
        demo_model_dir=args.demo_model_dir,
    )
    service = InferenceService(config)
    try:
        # Load before serving, so a missing model is one clear line and exit 1.
        service.loaded = service.load()
    except ModelLoadError as exc:
        print(f"freechat inference: {exc}", file=sys.stderr)
        return 1
    app = create_app(service, manage_lifespan=True)
    server = uvicorn.Server(
        uvicorn.Config(
            app, host=config.host, port=config.port, log_level=args.log_level
        )
    )
    registration = None
    if args.consul_url:
        from bot.registry import ConsulRegistration

        address = args.advertise_address or config.host
        if address in ("0.0.0.0", "::"):
            print(
                "freechat inference: --advertise-address is needed with --host "
                f"{address} and --consul-url",
                file=sys.stderr,
            )
            return 2
        registration = ConsulRegistration(
            args.consul_url, args.consul_service, address=address, port=config.port
        )
    asyncio.run(_serve_registered(server, registration))
    return 0


class _QuietServer(uvicorn.Server):
    """uvicorn re-raises SIGTERM after serving, which would kill the process before
    it deregisters from Consul; we take the signals ourselves instead."""

    def capture_signals(self) -> Any:
        return contextlib.nullcontext()


async def _serve_registered(server: Any, registration: Any) -> None:
    """Serve; once listening, register in Consul; deregister on the way out."""
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, setattr, server, "should_exit", True)
    task = asyncio.create_task(server.serve())
    while not server.started and not task.done():  # noqa: ASYNC110 - uvicorn has a flag only
        await asyncio.sleep(0.05)
    if registration is not None and server.started:
        await registration.register()
    try:
        await task
    finally:
        if registration is not None and server.started:
            try:
                await registration.deregister()
            except httpx.HTTPError as exc:
                logging.getLogger(__name__).warning(
                    "Consul deregistration failed: %s", exc
                )


def _register(args: argparse.Namespace) -> int:
    from .register import ExternalEngine

    try:
        engine = ExternalEngine(
            args.url,
            args.consul_url,
            args.consul_service,
            interval=args.interval,
            unhealthy_after=args.unhealthy_after,
            instance_id=args.instance_id,
        )
    except ValueError as exc:
        print(f"freechat inference register: {exc}", file=sys.stderr)
        return 2

    async def watch() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await engine.run(stop)

    asyncio.run(watch())
    return 0


def main(argv: list[str]) -> int:
    """Run `freechat inference` with `argv` (the arguments after `inference`)."""
    known = {"serve", "demo-model", "register", "-h", "--help"}
    if not argv or argv[0] not in known:
        argv = ["serve", *argv]
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(levelname)s %(name)s: %(message)s"
    )
    if args.command == "demo-model":
        from .demo_model import build_demo_model

        print(build_demo_model(args.path, seed=args.seed))
        return 0
    if args.command == "register":
        return _register(args)
    return _serve(args)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
