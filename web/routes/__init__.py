"""The web app's routes, one module per page or action."""
