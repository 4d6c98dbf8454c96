"""Debian's nginx and Caddy, run for real in front of the real server, for the deploy tests.

Each proxy runs as its own process with its own configuration, prefix and
log files in a temporary directory, on free loopback ports: never the
system's service, and nothing under /etc/nginx is read except mime.types,
from where Debian puts it. The site configuration is deploy/nginx.conf or
deploy/Caddyfile as deploy/configure.py writes it, with the options the
guide gives a practice (docs/SELF_HOSTING.md, section 3): the domain, a
certificate of its own, the server's address, the ports and the address to
listen on, and for nginx where its error log goes.

nginx's main configuration here mirrors what Debian's /etc/nginx/nginx.conf
sets around a site (an access log and `gzip on` at the http level, among
others), so a site that forgot to turn something off is caught. Requests are
made with curl (HTTP/1.1 and HTTP/2) from a loopback address of their own,
`CLIENT_ADDRESS`, with a User-Agent of their own, `CLIENT_AGENT`: the tests
search every log for both.
"""

import datetime
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

REPO_ROOT = Path(__file__).resolve().parents[2]
CONFIGURE = REPO_ROOT / "deploy" / "configure.py"
DOMAIN = "quietline.test"
# Any address of 127.0.0.0/8 is the loopback interface on Linux; the proxies'
# upstream connections come from 127.0.0.1, so a client on another one can be
# told apart from them in a log.
CLIENT_ADDRESS = "127.0.0.23"
CLIENT_AGENT = "deploy-probe-7d41c9"
DEBIAN_MIME_TYPES = Path("/etc/nginx/mime.types")
START_TIMEOUT = 20.0
PACKAGES = {"nginx": "nginx", "caddy": "caddy"}


def require_program(name: str) -> str:
    """The program's path, or a failure that names the Debian package to install."""
    found = shutil.which(name, path=os.environ.get("PATH", "") + ":/usr/sbin:/usr/bin")
    if found is None:
        raise RuntimeError(
            f"{name} is not installed: the deploy tests run Debian's {name}. "
            f"Install it with `apt-get install -y {PACKAGES[name]}` (.ci/run does) and run again."
        )
    return found


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass(frozen=True)
class Certificate:
    cert: Path
    key: Path


def make_certificate(directory: Path) -> Certificate:
    """A throw-away self-signed certificate for DOMAIN, valid for a day."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, DOMAIN)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(DOMAIN)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    paths = Certificate(directory / "fullchain.pem", directory / "privkey.pem")
    paths.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths.key.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return paths


def configure(proxy: str, *options: str) -> str:
    """deploy/configure.py's output, run as the guide runs it."""
    result = subprocess.run(
        [sys.executable, str(CONFIGURE), proxy, *options],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"configure.py {proxy} failed:\n{result.stderr}")
    return result.stdout


@dataclass(frozen=True)
class Response:
    status: int
    version: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Proxy:
    """One running proxy: its process, ports and the log files it writes."""

    name: str
    directory: Path
    certificate: Certificate
    # One server's port, or several relay processes' (deploy/configure.py --upstream).
    upstream_port: int | list[int]
    http_port: int = field(default_factory=free_port)
    https_port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def site_options(self) -> list[str]:
        return [
            "--domain",
            DOMAIN,
            "--upstream",
            ",".join(f"127.0.0.1:{port}" for port in self.upstream_ports),
            "--certificate",
            str(self.certificate.cert),
            "--key",
            str(self.certificate.key),
            "--listen",
            "127.0.0.1",
            "--http-port",
            str(self.http_port),
            "--https-port",
            str(self.https_port),
        ]

    @property
    def upstream_ports(self) -> list[int]:
        ports = self.upstream_port
        return ports if isinstance(ports, list) else [ports]

    @property
    def base_url(self) -> str:
        return f"https://{DOMAIN}:{self.https_port}"

    @property
    def ws_url(self) -> str:
        return f"wss://{DOMAIN}:{self.https_port}/ws"

    def logs(self) -> dict[str, str]:
        """Every file the proxy wrote in its directory, by name (certificates aside)."""
        found = {}
        for path in sorted(self.directory.rglob("*")):
            if path.is_file() and path.suffix in (".log", ".err", ".out"):
                found[str(path.relative_to(self.directory))] = path.read_text("utf-8", "replace")
        return found

    def wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        context = client_context(self.certificate)
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                break
            try:
                with (
                    socket.create_connection(("127.0.0.1", self.https_port), timeout=2) as raw,
                    context.wrap_socket(raw, server_hostname=DOMAIN),
                ):
                    return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"{self.name} did not start; its logs:\n{self.logs()}")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def request(
        self,
        path: str,
        *args: str,
        method: str = "GET",
        http2: bool = False,
        body_file: Path | None = None,
    ) -> Response:
        return curl(self, path, *args, method=method, http2=http2, body_file=body_file)


def client_context(certificate: Certificate) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(certificate.cert))
    return context


NGINX_MAIN = """\
{user}worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/main-error.log;
events {{
    worker_connections 768;
}}
http {{
    sendfile on;
    tcp_nopush on;
    types_hash_max_size 2048;
    include {mime_types};
    default_type application/octet-stream;
    ssl_protocols TLSv1 TLSv1.1 TLSv1.2 TLSv1.3;
    ssl_prefer_server_ciphers on;
    access_log {prefix}/access.log;
    gzip on;
    client_body_temp_path {prefix}/body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    include {prefix}/quietline.conf;
}}
"""


def start_nginx(directory: Path, certificate: Certificate, upstream_port: int | list[int]) -> Proxy:
    nginx = require_program("nginx")
    if not DEBIAN_MIME_TYPES.is_file():
        raise RuntimeError(
            f"{DEBIAN_MIME_TYPES} is missing: install Debian's nginx-common package "
            "(`apt-get install -y nginx`)."
        )
    directory.mkdir(parents=True, exist_ok=True)
    proxy = Proxy("nginx", directory, certificate, upstream_port)
    site = configure(
        "nginx", *proxy.site_options, "--error-log", str(directory / "quietline-error.log")
    )
    (directory / "quietline.conf").write_text(site)
    # A master running as root hands requests to workers of `user`; ours must
    # be able to write the temporary directories of this test.
    user = "user root;\n" if os.geteuid() == 0 else ""
    main = NGINX_MAIN.format(user=user, prefix=directory, mime_types=DEBIAN_MIME_TYPES)
    (directory / "nginx.conf").write_text(main)
    command = [nginx, "-p", str(directory), "-c", str(directory / "nginx.conf")]
    command += ["-e", str(directory / "startup-error.log")]
    checked = subprocess.run([*command, "-t"], capture_output=True, text=True, check=False)
    if checked.returncode != 0:
        raise RuntimeError(f"nginx -t refused the configuration:\n{checked.stderr}\n{site}")
    with (directory / "nginx.out").open("wb") as output:
        proxy.process = subprocess.Popen(
            [*command, "-g", "daemon off;"], stdout=output, stderr=subprocess.STDOUT
        )
    proxy.wait_ready()
    return proxy


def start_caddy(directory: Path, certificate: Certificate, upstream_port: int | list[int]) -> Proxy:
    caddy = require_program("caddy")
    directory.mkdir(parents=True, exist_ok=True)
    proxy = Proxy("caddy", directory, certificate, upstream_port)
    # The admin endpoint is off: a fixed port would collide with other runs.
    site = configure("caddy", *proxy.site_options, "--caddy-admin", "off")
    config = directory / "Caddyfile"
    config.write_text(site)
    home = directory / "home"
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "XDG_DATA_HOME": str(home / "data"),
        "XDG_CONFIG_HOME": str(home / "config"),
    }
    checked = subprocess.run(
        [caddy, "validate", "--config", str(config), "--adapter", "caddyfile"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if checked.returncode != 0:
        raise RuntimeError(f"caddy validate refused the configuration:\n{checked.stderr}\n{site}")
    with (directory / "caddy.log").open("wb") as output:
        proxy.process = subprocess.Popen(
            [caddy, "run", "--config", str(config), "--adapter", "caddyfile"],
            stdout=output,
            stderr=subprocess.STDOUT,
            env=env,
        )
    proxy.wait_ready()
    return proxy


def _parse_headers(text: str) -> tuple[int, str, dict[str, str]]:
    """The last response's status, HTTP version and headers from curl's --dump-header."""
    blocks = [block for block in text.replace("\r\n", "\n").split("\n\n") if block.strip()]
    lines = blocks[-1].splitlines()
    version, status = lines[0].split(" ")[:2]
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(status), version, headers


def curl(
    proxy: Proxy,
    path: str,
    *args: str,
    method: str = "GET",
    http2: bool = False,
    body_file: Path | None = None,
) -> Response:
    """One request through `proxy` with curl, from CLIENT_ADDRESS; never raises for a status."""
    out = proxy.directory / "curl-body.bin"
    dump = proxy.directory / "curl-headers.txt"
    command = [
        "curl",
        "--silent",
        "--show-error",
        "--max-time",
        "60",
        "--cacert",
        str(proxy.certificate.cert),
        "--resolve",
        f"{DOMAIN}:{proxy.https_port}:127.0.0.1",
        "--resolve",
        f"{DOMAIN}:{proxy.http_port}:127.0.0.1",
        "--interface",
        CLIENT_ADDRESS,
        "--user-agent",
        CLIENT_AGENT,
        "--http2" if http2 else "--http1.1",
        "--request",
        method,
        "--output",
        str(out),
        "--dump-header",
        str(dump),
        # Send the body at once, as a browser does, without waiting for 100 Continue.
        "--header",
        "Expect:",
    ]
    if body_file is not None:
        command += ["--data-binary", f"@{body_file}", "--header", "Content-Type: application/json"]
    url = path if path.startswith("http") else proxy.base_url + path
    result = subprocess.run(
        [*command, *args, url], capture_output=True, text=True, timeout=90, check=False
    )
    if result.returncode != 0:
        raise AssertionError(f"curl {method} {url} failed: {result.stderr}")
    status, version, headers = _parse_headers(dump.read_text("latin-1"))
    return Response(status, version, headers, out.read_bytes())
