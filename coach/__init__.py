"""The `coach` command and the process supervisor behind `make run`."""
