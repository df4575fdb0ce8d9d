"""Running on several machines: an ingress that enqueues updates, workers that handle them (procrastinate)."""
