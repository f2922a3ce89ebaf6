"""Development tools run from the repository (``python -m tools.<name>``): never installed, never in the
production image, which ships ``app/`` alone. They may import ``app``; ``app`` never imports them."""
