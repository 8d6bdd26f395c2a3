"""The application factory: middleware, routers and error handlers."""

from __future__ import annotations

from fastapi import Depends, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.routing import APIRoute

from spendlens import __version__
from spendlens.api import api_router
from spendlens.apidocs import install_api_docs
from spendlens.config import Settings, get_settings
from spendlens.errors import install_error_handlers
from spendlens.kit.input_guard import InputGuardMiddleware
from spendlens.ops.endpoints import router as ops_router
from spendlens.ops.logging import configure_logging
from spendlens.ops.middleware import RequestContextMiddleware
from spendlens.ratelimit import RateLimiter, limit_api_call


def custom_generate_unique_id(route: APIRoute) -> str:
    """Stable operation ids such as `transactions:list_transactions`."""
    tag = route.tags[0] if route.tags else "default"
    return f"{tag}:{route.name}"


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    configure_logging(settings.log_level)
    app = FastAPI(
        title="Spendlens API",
        version=__version__,
        description=(
            "Customer-spending analytics. Log in at `POST /api/v1/auth/login` and send "
            "`Authorization: Bearer <token>` on every other call. Money is a string with two "
            "decimals; dates are UTC calendar days."
        ),
        generate_unique_id_function=custom_generate_unique_id,
        # Served by install_api_docs from a package, not from a CDN.
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.rate_limiter = RateLimiter(settings)
    # Innermost: hostile input is refused before routing, and still logged with its request id.
    app.add_middleware(InputGuardMiddleware)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.cors_origins,
        allow_credentials=False,
        allow_methods=["GET", "POST", "PATCH", "PUT", "DELETE"],
        allow_headers=["Authorization", "Content-Type", "X-Request-ID"],
        expose_headers=["X-Request-ID", "Retry-After"],
    )
    app.add_middleware(RequestContextMiddleware)
    install_error_handlers(app)
    app.include_router(ops_router)
    # Probes, metrics and docs stay outside the rate limits; every API call is counted.
    app.include_router(api_router, dependencies=[Depends(limit_api_call)])
    install_api_docs(app)
    return app
