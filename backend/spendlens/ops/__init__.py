"""Operations: health checks, Prometheus metrics, request ids and structured logs."""
