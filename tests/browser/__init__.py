"""Browser tests of the demo portal with the real widget and service."""
