"""Background jobs on procrastinate: the queue, the worker, progress tracking and the /jobs API."""
