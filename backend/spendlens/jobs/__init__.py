"""Background jobs on procrastinate: declaring job kinds (registry), the queue, the worker, progress
tracking and the /jobs API."""
