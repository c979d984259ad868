"""What users run against the server: the blur CLI and API, the demo, load tests."""
