"""Platform-free observability: metrics (Prometheus), health checks and structured logs."""
