"""The bottom floor of the processes: settings, the Temporal connection and the journey's names on the server."""
