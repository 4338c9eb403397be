"""Start Rasa with its HTTP API token from the environment, never on a command line.

`rasa run --auth-token TOKEN` puts the token where any user of the machine can read
it (`ps`, /proc/PID/cmdline). This launcher is run instead, with the same arguments
but the token: it reads RASA_TOKEN and hands it to Rasa inside the process.

    python launch.py run --enable-api --model MODEL ...
"""

from __future__ import annotations

import os
import sys


def main() -> None:
    token = os.environ.get("RASA_TOKEN", "").strip()
    if not token:
        sys.exit("RASA_TOKEN is not set: Rasa's HTTP API must not run without a token.")
    if any(arg.startswith("--auth-token") for arg in sys.argv):
        sys.exit("Give the token in RASA_TOKEN, not on the command line.")
    # Changes this process's argument list only; /proc/PID/cmdline keeps what was run.
    # One word, `--auth-token=TOKEN`: a token may begin with "-" (one in 64 that
    # secrets.token_urlsafe makes does), which argparse would read as a flag of its own.
    sys.argv = ["rasa", *sys.argv[1:], f"--auth-token={token}"]
    from rasa.__main__ import main as rasa_main

    rasa_main()


if __name__ == "__main__":
    main()
