"""Command-line tools (`vn-perception COMMAND`, see `vn_perception.cli`)."""
