"""`monitor bench`: model-only throughput (`model`), the service end to end on embedded servers
(`e2e`), and memory under a backlog (`python -m monitor.tools.bench.backlog`)."""
