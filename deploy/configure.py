"""Write the practice's proxy configuration from deploy/nginx.conf or deploy/Caddyfile.

    /opt/quietline/.venv/bin/python /opt/quietline/deploy/configure.py nginx \
        --domain notes.example.org > /etc/nginx/sites-available/quietline

The examples are complete, working files for the name notes.example.org; this
script makes the only changes a practice makes to them, and nothing else:

- the domain name (and, for nginx, the certbot certificate paths that follow it);
- the body limit, when the practice changed `max_request_bytes` (default: the
  server's default), so that the proxy refuses exactly what the server refuses;
- the server's address, when it does not listen on 127.0.0.1:8000, or the
  addresses of several relay processes sharing one PostgreSQL database
  (`--upstream 127.0.0.1:8001,127.0.0.1:8002`; docs/SELF_HOSTING.md,
  "PostgreSQL and several relay processes"): each new connection goes to the
  process with the fewest, and one that is down is skipped;
- a certificate of the practice's own (`--certificate`, `--key`) instead of
  certbot's (nginx) or an automatic one (Caddy);
- the ports and the address to listen on, when not 80 and 443 on every address;
- where nginx writes its error log, and where Caddy's admin endpoint listens.

Every replacement must find what it replaces: if an example changes so that
one no longer applies, the script stops with a message instead of writing a
configuration that silently ignores an option. tests/deploy runs the proxies
on the output of this script, with the same options a practice can give.
"""

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from server.config import Settings

DEPLOY = Path(__file__).resolve().parent
EXAMPLE_DOMAIN = "notes.example.org"
EXAMPLE_UPSTREAM = "127.0.0.1:8000"
EXAMPLE_LIMIT = str(Settings.max_request_bytes)
EXAMPLE_ERROR_LOG = "/var/log/nginx/quietline-error.log"
EXAMPLE_CADDY_ADMIN = "localhost:2019"


class ConfigureError(Exception):
    """An option does not apply to the example as it is; the message says which."""


def replace(text: str, old: str, new: str, what: str) -> str:
    if old not in text:
        raise ConfigureError(f"the example has no {old!r} to replace ({what}).")
    return text.replace(old, new)


def _listen(address: str | None, port: int, extra: str) -> list[str]:
    if address is None:
        return [f"listen {port}{extra};", f"listen [::]:{port}{extra};"]
    host = f"[{address}]" if ":" in address else address
    return [f"listen {host}:{port}{extra};"]


def _replace_listen(text: str, port: int, new_port: int, extra: str, address: str | None) -> str:
    old = "\n".join(f"    {line}" for line in _listen(None, port, extra))
    new = "\n".join(f"    {line}" for line in _listen(address, new_port, extra))
    return replace(text, old, new, f"the listen lines of port {port}")


def nginx(text: str, options: argparse.Namespace) -> str:
    if options.certificate:
        text = replace(
            text,
            f"/etc/letsencrypt/live/{EXAMPLE_DOMAIN}/fullchain.pem",
            options.certificate,
            "--certificate",
        )
        text = replace(
            text, f"/etc/letsencrypt/live/{EXAMPLE_DOMAIN}/privkey.pem", options.key, "--key"
        )
    text = replace(text, EXAMPLE_DOMAIN, options.domain, "--domain")
    text = _replace_listen(text, 80, options.http_port, "", options.listen)
    text = _replace_listen(text, 443, options.https_port, " ssl http2", options.listen)
    if options.http_port != 80 or options.https_port != 443:
        # The redirect must name the HTTPS port when it is not the default one.
        text = replace(
            text,
            "return 301 https://$host$request_uri;",
            f"return 301 https://$host:{options.https_port}$request_uri;",
            "the redirect to HTTPS",
        )
    if options.error_log:
        text = replace(text, EXAMPLE_ERROR_LOG, options.error_log, "--error-log")
    return text


def caddy(text: str, options: argparse.Namespace) -> str:
    site = f"\n{EXAMPLE_DOMAIN} {{\n"
    added = []
    if options.listen:
        added.append(f"\tbind {options.listen}\n")
    if options.certificate:
        added.append(f"\ttls {options.certificate} {options.key}\n")
    text = replace(text, site, site + "".join(added), "the site's address")
    text = replace(text, EXAMPLE_DOMAIN, options.domain, "--domain")
    ports = []
    if options.http_port != 80:
        ports.append(f"\thttp_port {options.http_port}\n")
    if options.https_port != 443:
        ports.append(f"\thttps_port {options.https_port}\n")
    admin = f"\tadmin {EXAMPLE_CADDY_ADMIN}\n"
    text = replace(text, admin, admin + "".join(ports), "the global options")
    if options.caddy_admin:
        text = replace(text, admin, f"\tadmin {options.caddy_admin}\n", "--caddy-admin")
    return text


PROXIES: dict[str, tuple[str, Callable[[str, argparse.Namespace], str]]] = {
    "nginx": ("nginx.conf", nginx),
    "caddy": ("Caddyfile", caddy),
}


def _several_relays(proxy: str, text: str, relays: list[str]) -> str:
    """Spread connections over several relay processes, least busy first.

    Any process serves any account (the store is shared, and processes wake
    each other: docs/SERVER.md), so nothing needs to stick to one. A request
    that finds a process down is sent to another when it has not reached the
    server yet; nginx never retries one that did (it retries only requests
    that are not POST, PUT or DELETE), so nothing is stored twice.
    """
    if proxy == "nginx":
        servers = "".join(f"    server {relay} max_fails=1 fail_timeout=5s;\n" for relay in relays)
        text = replace(
            text,
            f"proxy_pass http://{EXAMPLE_UPSTREAM};",
            "proxy_pass http://quietline_relays;",
            "--upstream",
        )
        return text + f"\nupstream quietline_relays {{\n    least_conn;\n{servers}}}\n"
    return replace(
        text,
        f"reverse_proxy {EXAMPLE_UPSTREAM} {{\n",
        f"reverse_proxy {' '.join(relays)} {{\n"
        "\t\tlb_policy least_conn\n"
        "\t\tlb_try_duration 5s\n"
        "\t\tfail_duration 5s\n",
        "--upstream",
    )


def configure(proxy: str, options: argparse.Namespace) -> str:
    """The example for `proxy` with the practice's options applied."""
    name, apply = PROXIES[proxy]
    text = (DEPLOY / name).read_text()
    relays = options.upstream.split(",")
    if len(relays) > 1:
        text = _several_relays(proxy, text, relays)
    elif options.upstream != EXAMPLE_UPSTREAM:
        text = replace(text, EXAMPLE_UPSTREAM, options.upstream, "--upstream")
    if options.max_request_bytes != int(EXAMPLE_LIMIT):
        text = replace(text, EXAMPLE_LIMIT, str(options.max_request_bytes), "--max-request-bytes")
    return apply(text, options)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="configure.py",
        description="Print the nginx or Caddy configuration for this practice.",
    )
    parser.add_argument("proxy", choices=sorted(PROXIES))
    parser.add_argument("--domain", required=True, help="the practice's host name")
    parser.add_argument(
        "--max-request-bytes",
        type=int,
        default=Settings.max_request_bytes,
        help="the server's max_request_bytes, if the practice changed it",
    )
    parser.add_argument(
        "--upstream",
        default=EXAMPLE_UPSTREAM,
        help="the server's HOST:PORT (127.0.0.1:8000), or several relay processes' "
        "separated by commas",
    )
    parser.add_argument("--certificate", help="certificate chain (PEM), instead of certbot's")
    parser.add_argument("--key", help="its private key (PEM)")
    parser.add_argument("--listen", help="one address to listen on (default: every address)")
    parser.add_argument("--http-port", type=int, default=80)
    parser.add_argument("--https-port", type=int, default=443)
    parser.add_argument("--error-log", help=f"nginx's error log (default {EXAMPLE_ERROR_LOG})")
    parser.add_argument(
        "--caddy-admin", help=f"Caddy's admin endpoint (default {EXAMPLE_CADDY_ADMIN})"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    options = parser.parse_args(argv)
    if bool(options.certificate) != bool(options.key):
        parser.error("--certificate and --key go together.")
    if options.error_log and options.proxy != "nginx":
        parser.error("--error-log is for nginx; Caddy logs to the journal.")
    if options.caddy_admin and options.proxy != "caddy":
        parser.error("--caddy-admin is for Caddy.")
    try:
        sys.stdout.write(configure(options.proxy, options))
    except ConfigureError as error:
        print(f"configure.py: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
