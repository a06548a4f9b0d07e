"""The embedded local PostgreSQL + PostGIS + pgRouting cluster.

With no ``SERVICEMAP_DATABASE_URL`` the ``servicemap`` command runs its own
cluster in a state directory. It listens on 127.0.0.1 only (no unix socket), on
a free port recorded in ``state.json``, with a generated password (scram-sha-256).

PostgreSQL refuses to run as root, so when the current user is root the cluster
is owned and run by an unprivileged system user (``servicemap``), created on
first use. When the state directory is not reachable by that user (for example
under ``/root``), the data directory lives in ``/var/lib/servicemap/clusters/``
under a name derived from the state directory; ``state.json`` records where.
"""

from __future__ import annotations

import hashlib
import json
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from geo.errors import ConfigurationError, DatabaseUnavailable

SYSTEM_USER = "servicemap"
DB_SUPERUSER = "servicemap"
PG_PACKAGES = "postgresql-15 postgresql-15-postgis-3 postgresql-15-pgrouting"


def find_pg_bindir() -> Path:
    """Directory holding ``initdb`` and ``pg_ctl`` (Debian layout, newest version)."""
    env = os.environ.get("SERVICEMAP_PG_BINDIR")
    candidates = [Path(env)] if env else []
    candidates += sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)
    for c in candidates:
        if (c / "initdb").exists() and (c / "pg_ctl").exists():
            return c
    raise ConfigurationError(
        "未找到 PostgreSQL 服务器程序（initdb、pg_ctl），请安装 Debian 软件包："
        f"apt-get install {PG_PACKAGES}"
    )


def free_port(preferred: int | None = None) -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (``preferred`` when free)."""
    if preferred and port_is_free(preferred):
        return preferred
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@dataclass
class ClusterState:
    data_dir: str
    port: int
    #: the superuser's (cluster set-up only)
    password: str
    os_user: str
    db_name: str
    #: the owner's and the reader's (:mod:`geo.store.roles`); made at the first
    #: start of a cluster created before the roles existed
    owner_password: str | None = None
    reader_password: str | None = None


class LocalCluster:
    """A PostgreSQL cluster owned by this project, in ``state_dir``.

    Parameters
    ----------
    state_dir
        Directory for ``state.json`` (and the data directory when reachable).
    db_name
        Database created inside the cluster, with the ``postgis`` and
        ``pgrouting`` extensions.
    log
        Callable receiving progress lines (default: print).
    """

    def __init__(self, state_dir: Path, *, db_name: str = "servicemap", log=print) -> None:
        self.state_dir = Path(state_dir).resolve()
        self.db_name = db_name
        self.log = log
        self.is_root = os.geteuid() == 0

    # -- state -------------------------------------------------------------
    @property
    def state_file(self) -> Path:
        return self.state_dir / "state.json"

    def read_state(self) -> ClusterState | None:
        if not self.state_file.exists():
            return None
        return ClusterState(**json.loads(self.state_file.read_text()))

    def _write_state(self, state: ClusterState) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(state), indent=2))
        os.chmod(tmp, 0o600)
        tmp.replace(self.state_file)

    # -- OS user handling -------------------------------------------------
    def _os_user(self) -> str:
        if not self.is_root:
            return pwd.getpwuid(os.geteuid()).pw_name
        try:
            pwd.getpwnam(SYSTEM_USER)
        except KeyError:
            self.log(f"creating system user '{SYSTEM_USER}' to own the database cluster")
            subprocess.run(
                ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin",
                 SYSTEM_USER],
                check=True, capture_output=True,
            )
        return SYSTEM_USER

    def _as_user(self, os_user: str, cmd: list[str]) -> list[str]:
        if self.is_root:
            return ["runuser", "-u", os_user, "--", *cmd]
        return cmd

    def _reachable_by(self, os_user: str, path: Path) -> bool:
        if not self.is_root:
            return True
        r = subprocess.run(self._as_user(os_user, ["test", "-x", str(path)]),
                           capture_output=True)
        return r.returncode == 0

    def _choose_data_dir(self, os_user: str) -> Path:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.state_dir, 0o755)
        if self._reachable_by(os_user, self.state_dir):
            return self.state_dir / "cluster"
        digest = hashlib.sha1(str(self.state_dir).encode()).hexdigest()[:12]
        return Path("/var/lib/servicemap/clusters") / digest

    # -- pg_ctl -----------------------------------------------------------
    def _run(self, state: ClusterState, cmd: list[str], **kw) -> subprocess.CompletedProcess:
        return subprocess.run(self._as_user(state.os_user, cmd), capture_output=True,
                              text=True, **kw)

    def _pgdata(self, state: ClusterState) -> Path:
        return Path(state.data_dir) / "data"

    def running(self, state: ClusterState | None = None) -> bool:
        state = state or self.read_state()
        if state is None or not self._pgdata(state).exists():
            return False
        r = self._run(state, [str(find_pg_bindir() / "pg_ctl"), "status", "-D",
                              str(self._pgdata(state))])
        return r.returncode == 0

    def init(self) -> ClusterState:
        """Create the cluster if it does not exist yet (idempotent)."""
        state = self.read_state()
        if state and (self._pgdata(state) / "PG_VERSION").exists():
            return state
        bindir = find_pg_bindir()
        os_user = self._os_user()
        root = self._choose_data_dir(os_user)
        root.mkdir(parents=True, exist_ok=True)
        password = secrets.token_urlsafe(24)
        state = ClusterState(data_dir=str(root), port=free_port(), password=password,
                             os_user=os_user, db_name=self.db_name)
        pwfile = root / ".pw"
        pwfile.write_text(password)
        if self.is_root:
            shutil.chown(root, os_user)
            shutil.chown(pwfile, os_user)
        os.chmod(root, 0o700)
        os.chmod(pwfile, 0o600)
        self.log(f"initialising PostgreSQL cluster in {root}")
        r = self._run(state, [str(bindir / "initdb"), "-D", str(self._pgdata(state)),
                              "-U", DB_SUPERUSER, "--auth=scram-sha-256", f"--pwfile={pwfile}",
                              "-E", "UTF8", "--locale=C.UTF-8"])
        pwfile.unlink(missing_ok=True)
        if r.returncode != 0:
            raise ConfigurationError(f"initdb 执行失败：{r.stderr.strip() or r.stdout.strip()}")
        conf = self._pgdata(state) / "postgresql.conf"
        self._run(state, ["sh", "-c", f"echo \"include_if_exists = 'servicemap.conf'\" >> {conf}"])
        self._write_state(state)
        return state

    def _write_conf(self, state: ClusterState) -> None:
        text = (
            "# written by servicemap at every start\n"
            "listen_addresses = '127.0.0.1'\n"
            f"port = {state.port}\n"
            "unix_socket_directories = ''\n"
            "max_connections = 120\n"  # two web pools of 30, the CLI, tests
            "shared_buffers = 256MB\n"
            "work_mem = 32MB\n"
            "maintenance_work_mem = 256MB\n"
            "fsync = on\n"
            "synchronous_commit = on\n"  # an acknowledged write survives a crash
            "full_page_writes = on\n"
            "max_wal_size = 2GB\n"
        )
        target = self._pgdata(state) / "servicemap.conf"
        r = self._run(state, ["sh", "-c", f"cat > {target}"], input=text)
        if r.returncode != 0:
            raise ConfigurationError(f"无法写入 {target}：{r.stderr.strip()}")

    def start(self) -> ClusterState:
        """Start the cluster (creating it first if needed); create the database and
        extensions. Returns the state with the port in use."""
        state = self.init()
        if self.running(state):
            self._ensure_database(state)
            return state
        if not port_is_free(state.port):
            old = state.port
            state.port = free_port()
            self.log(f"port {old} is in use; the database will listen on port {state.port}")
            self._write_state(state)
        self._write_conf(state)
        log_file = Path(state.data_dir) / "postgres.log"
        self.log(f"starting PostgreSQL on 127.0.0.1:{state.port}")
        r = self._run(state, [str(find_pg_bindir() / "pg_ctl"), "start", "-w", "-t", "60",
                              "-D", str(self._pgdata(state)), "-l", str(log_file)])
        if r.returncode != 0:
            tail = ""
            try:
                tail = self._run(state, ["tail", "-n", "5", str(log_file)]).stdout
            except OSError:
                pass
            raise ConfigurationError(f"PostgreSQL 未能启动：{r.stderr.strip()} {tail}")
        self._ensure_database(state)
        return state

    def stop(self) -> bool:
        """Stop the cluster; True when it was running."""
        state = self.read_state()
        if state is None or not self.running(state):
            return False
        self._run(state, [str(find_pg_bindir() / "pg_ctl"), "stop", "-w", "-m", "fast",
                          "-D", str(self._pgdata(state))])
        return True

    def destroy(self) -> None:
        """Stop and delete the cluster and its state (used by the test fixture)."""
        state = self.read_state()
        self.stop()
        if state:
            shutil.rmtree(state.data_dir, ignore_errors=True)
        shutil.rmtree(self.state_dir, ignore_errors=True)

    # -- database ---------------------------------------------------------
    def url(self, state: ClusterState | None = None, *, database: str | None = None,
            role: str = "owner") -> str:
        """The URL of the database as ``role``: ``owner`` (what the product
        uses), ``reader`` (public read paths) or ``superuser`` (set-up only)."""
        from geo.store.roles import OWNER, READER

        state = state or self.read_state()
        if state is None:
            raise DatabaseUnavailable("本地数据库尚未创建：请运行 "
                                      "`servicemap db start`")
        user, password = {"owner": (OWNER, state.owner_password),
                          "reader": (READER, state.reader_password),
                          "superuser": (DB_SUPERUSER, state.password)}[role]
        if password is None:
            raise DatabaseUnavailable("本地数据库还没有应用角色：请运行 "
                                      "`servicemap db start`")
        return (f"postgresql+psycopg://{user}:{password}@127.0.0.1:{state.port}/"
                f"{database or state.db_name}")

    def _ensure_database(self, state: ClusterState) -> None:
        """The database, its extensions and the roles of :mod:`geo.store.roles`
        (made, or handed over in a cluster created before them)."""
        import psycopg

        from geo.store.roles import OWNER, ensure_roles, hand_over

        if state.owner_password is None or state.reader_password is None:
            state.owner_password = state.owner_password or secrets.token_urlsafe(24)
            state.reader_password = state.reader_password or secrets.token_urlsafe(24)
            self._write_state(state)
        dsn = _plain(self.url(state, database="postgres", role="superuser"))
        deadline = time.monotonic() + 30
        while True:
            try:
                conn = psycopg.connect(dsn, autocommit=True, connect_timeout=5)
                break
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.3)
        with conn:
            ensure_roles(conn, owner_password=state.owner_password,
                         reader_password=state.reader_password)
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s",
                                  (state.db_name,)).fetchone()
            if not exists:
                self.log(f"creating database {state.db_name}")
                conn.execute(f'CREATE DATABASE "{state.db_name}" OWNER "{OWNER}"')
            ensure_extensions(self.url(state, role="superuser"))
            with psycopg.connect(_plain(self.url(state, role="superuser")),
                                 autocommit=True) as db:
                hand_over(conn, db, state.db_name)

    def create_database(self, name: str) -> str:
        """Create (or recreate, empty) another database ``name`` in the running
        cluster, owned by the owner role with the extensions installed and the
        reader allowed to connect; returns the owner's URL of it."""
        import psycopg

        from geo.store.roles import OWNER, hand_over

        state = self.read_state()
        with psycopg.connect(_plain(self.url(state, database="postgres", role="superuser")),
                             autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            admin.execute(f'CREATE DATABASE "{name}" OWNER "{OWNER}"')
            ensure_extensions(self.url(state, database=name, role="superuser"))
            with psycopg.connect(_plain(self.url(state, database=name, role="superuser")),
                                 autocommit=True) as db:
                hand_over(admin, db, name)
        return self.url(state, database=name)

    def status(self) -> dict:
        state = self.read_state()
        if state is None:
            return {"created": False, "running": False, "state_dir": str(self.state_dir)}
        return {"created": True, "running": self.running(state), "port": state.port,
                "data_dir": state.data_dir, "database": state.db_name,
                "state_dir": str(self.state_dir), "os_user": state.os_user}


def _plain(url: str) -> str:
    return url.replace("postgresql+psycopg", "postgresql")


def ensure_extensions(url: str) -> None:
    """Create the ``postgis`` and ``pgrouting`` extensions, naming the Debian package
    to install when one is missing."""
    import psycopg

    dsn = url.replace("postgresql+psycopg", "postgresql")
    with psycopg.connect(dsn, autocommit=True) as conn:
        for ext, package in (("postgis", "postgresql-15-postgis-3"),
                             ("pgrouting", "postgresql-15-pgrouting")):
            try:
                conn.execute(f"CREATE EXTENSION IF NOT EXISTS {ext}")
            except psycopg.errors.FeatureNotSupported as exc:  # pragma: no cover - env
                raise ConfigurationError(
                    f"服务器上未安装 PostgreSQL 扩展 '{ext}'，"
                    f"请安装 Debian 软件包：apt-get install {package}") from exc
            except psycopg.errors.UndefinedFile as exc:
                raise ConfigurationError(
                    f"服务器上未安装 PostgreSQL 扩展 '{ext}'，"
                    f"请安装 Debian 软件包：apt-get install {package}") from exc
