"""The `quietline` command: one entry point, two worlds kept apart.

`serve` and `admin` belong to the server; `client` belongs to the Python
client. They are imported lazily and separately so that the server side never
loads the code that decrypts.
"""

import sys


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] == "client":
        from client_py.cli import main as client_main

        return client_main(args[1:])
    from server.cli import main as server_main

    return server_main(args)


if __name__ == "__main__":
    sys.exit(main())
