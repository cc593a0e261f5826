"""What `make run` starts and wires: the embedded Temporal dev server, the journey worker, the API, the codec server."""
