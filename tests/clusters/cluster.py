"""Real three-node OpenSearch and Elasticsearch clusters on loopback, one JVM per node.

The nodes run from the engines' jars on Maven Central: `mvn package` in tests/clusters/<engine>/
resolves them and compiles a small launcher (and, for Elasticsearch, a stand-in for the unpublished
rest-root module that answers `GET /`). The build lands in a cache directory keyed by a digest of
those sources, so it runs once per machine and change. Each node is its own process, so a test can
kill -9 one node; a node also exits by itself when its standard input closes, so no JVM outlives
the test process that started it.
"""
from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
import uuid
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

HERE = Path(__file__).resolve().parent
STARTED_LINE = "SENTINEL-NODE-STARTED"


class ClusterUnavailable(RuntimeError):
    """This machine cannot run the engine (no suitable Java, no Maven, or the jars cannot be had):
    a reason to skip, unless REQUIRE_SEARCH_CLUSTERS=1 makes it a failure."""


class ClusterFailed(RuntimeError):
    """The nodes were started but the cluster did not come up or answer: always a failure."""


@dataclass(frozen=True)
class Engine:
    """What differs between the two engines when starting nodes."""

    name: str
    java_min: int
    java_max: int
    main_class: str
    initial_masters_setting: str
    heap_mb: int
    extra_jvm_options: tuple[str, ...] = ()

    @property
    def project(self) -> Path:
        return HERE / self.name


OPENSEARCH = Engine(
    name="opensearch",
    java_min=17, java_max=21,
    main_class="sentinel.clusters.OpenSearchNodeMain",
    initial_masters_setting="cluster.initial_cluster_manager_nodes",
    heap_mb=512,
)
ELASTICSEARCH = Engine(
    name="elasticsearch",
    java_min=21, java_max=99,
    main_class="sentinel.clusters.launcher.ElasticsearchNodeMain",
    initial_masters_setting="cluster.initial_master_nodes",
    heap_mb=512,
    extra_jvm_options=("--add-modules", "ALL-MODULE-PATH", "--enable-native-access=ALL-UNNAMED"),
)
ENGINES: dict[str, Engine] = {e.name: e for e in (OPENSEARCH, ELASTICSEARCH)}

# JVM options of the engines' own jvm.options that matter here, plus small heaps.
COMMON_JVM_OPTIONS = (
    "-XX:+UseSerialGC",
    "-Xss1m",
    "-Djava.awt.headless=true",
    "-Dfile.encoding=UTF-8",
    "-Dio.netty.noUnsafe=true",
    "-Dio.netty.noKeySetOptimization=true",
    "-Dio.netty.recycler.maxCapacityPerThread=0",
    "-Dlog4j.shutdownHookEnabled=false",
    "-Dlog4j2.disable.jmx=true",
    "-Dlog4j2.formatMsgNoLookups=true",
)


# The nodes' console log (console.log in each node's directory): warnings, and the cluster's
# membership and elections, which is what a failing test needs to see.
LOG4J2_CONSOLE = """\
status = error
appender.console.type = Console
appender.console.name = console
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = %d{HH:mm:ss.SSS} %-5p [%c{1.}] %m%n
rootLogger.level = warn
rootLogger.appenderRef.console.ref = console
logger.coordination.name = org.ENGINE.cluster.coordination
logger.coordination.level = info
logger.service.name = org.ENGINE.cluster.service
logger.service.level = info
"""


# --- Java and Maven -----------------------------------------------------------------------------

@dataclass(frozen=True)
class Jdk:
    home: Path
    major: int

    @property
    def java(self) -> Path:
        return self.home / "bin" / "java"


def _java_major(java: Path) -> int | None:
    try:
        out = subprocess.run([str(java), "-XshowSettings:properties", "-version"], capture_output=True,
                             text=True, timeout=30).stderr
    except (OSError, subprocess.TimeoutExpired):
        return None
    m = re.search(r"java\.specification\.version = (\d+)", out)
    return int(m.group(1)) if m else None


def _jdk_candidates() -> Iterator[Path]:
    if os.environ.get("JAVA_HOME"):
        yield Path(os.environ["JAVA_HOME"])
    on_path = shutil.which("java")
    if on_path:
        yield Path(os.path.realpath(on_path)).parent.parent
    jvm = Path("/usr/lib/jvm")
    if jvm.is_dir():
        yield from sorted(p for p in jvm.iterdir() if p.is_dir() and not p.is_symlink())


def find_jdk(engine: Engine) -> Jdk:
    """The first JDK (java and javac) whose version the engine runs on: JAVA_HOME, then `java` on
    PATH, then /usr/lib/jvm/*."""
    seen: list[str] = []
    for home in _jdk_candidates():
        home = home.resolve()
        if not (home / "bin" / "javac").exists() or str(home) in seen:
            continue
        seen.append(str(home))
        major = _java_major(home / "bin" / "java")
        if major is not None and engine.java_min <= major <= engine.java_max:
            return Jdk(home, major)
    raise ClusterUnavailable(
        f"{engine.name} 需要 Java {engine.java_min}–{engine.java_max} 的 JDK（含 javac），本机没有找到"
        f"（看过：{', '.join(seen) or '无'}）：安装一个，或把 JAVA_HOME 指向它")


def cache_root() -> Path:
    return Path(os.environ.get("SENTINEL_CLUSTER_CACHE", Path.home() / ".cache" / "union-sentinel" / "clusters"))


def _sources_digest(engine: Engine) -> str:
    h = hashlib.sha256()
    for path in sorted(p for p in engine.project.rglob("*") if p.is_file() and "target" not in p.parts):
        h.update(str(path.relative_to(engine.project)).encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:16]


@dataclass(frozen=True)
class Build:
    """The compiled launcher and the engine's jars, in the cache."""

    engine: Engine
    jdk: Jdk
    directory: Path

    @property
    def lib(self) -> list[Path]:
        return sorted((self.directory / "lib").glob("*.jar"))

    def artifact(self, classifier: str | None = None) -> Path:
        name = f"{self.engine.name}-node-1" + (f"-{classifier}" if classifier else "") + ".jar"
        return self.directory / name


def build(engine: Engine) -> Build:
    """Compile the launcher and fetch the engine's jars (once per source digest; a lock keeps two
    processes from building the same directory at once)."""
    jdk = find_jdk(engine)
    mvn = shutil.which("mvn")
    if mvn is None:
        raise ClusterUnavailable("本机没有 Maven（mvn）：安装它（Debian：apt-get install maven）后再运行")
    directory = cache_root() / f"{engine.name}-{_sources_digest(engine)}"
    directory.parent.mkdir(parents=True, exist_ok=True)
    done = directory / "BUILD-OK"
    with open(directory.parent / f"{engine.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not done.exists():
            shutil.rmtree(directory, ignore_errors=True)
            started = time.monotonic()
            proc = subprocess.run(
                [mvn, "-B", "-q", "package", f"-Dsentinel.build.dir={directory}"],
                cwd=engine.project, capture_output=True, text=True,
                env={**os.environ, "JAVA_HOME": str(jdk.home)},
            )
            if proc.returncode != 0:
                tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-25:])
                raise ClusterUnavailable(f"{engine.name} 的 Maven 构建失败（{engine.project}/pom.xml）：\n{tail}")
            done.write_text(f"{time.monotonic() - started:.1f}s\n")
    return Build(engine, jdk, directory)


# --- nodes and clusters -------------------------------------------------------------------------

def free_ports(count: int) -> list[int]:
    """`count` distinct loopback ports that were free a moment ago."""
    sockets = []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            sockets.append(s)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


@dataclass
class SearchNode:
    """One node: its own JVM, ports and directories."""

    name: str
    http_port: int
    transport_port: int
    directory: Path
    command: list[str]
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def log_path(self) -> Path:
        return self.directory / "console.log"

    @property
    def pid(self) -> int:
        if self.process is None:
            raise ClusterFailed(f"节点 {self.name} 没有在运行")
        return self.process.pid

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self) -> None:
        if self.alive:
            return
        (self.directory / "tmp").mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as out:
            self.process = subprocess.Popen(
                self.command, cwd=self.directory, stdin=subprocess.PIPE, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True,  # a Ctrl-C in the terminal reaches pytest, which then stops the nodes
            )

    def kill(self) -> None:
        """kill -9: the node dies at once, as in a crash."""
        if self.alive:
            assert self.process is not None
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)

    def request_stop(self) -> None:
        """Close the node's standard input: it closes itself and exits."""
        if self.process is not None and self.process.stdin and not self.process.stdin.closed:
            try:
                self.process.stdin.close()
            except OSError:
                pass

    def wait_stopped(self, timeout: float) -> None:
        if self.process is None:
            return
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join([line for line in text.splitlines() if not line.lstrip().startswith("at ")][-lines:])


def _get_json(url: str, timeout: float = 10) -> dict:
    with urllib.request.urlopen(url, timeout=timeout) as resp:
        return json.loads(resp.read())


@dataclass
class SearchCluster:
    """A cluster of `len(nodes)` nodes of one engine on loopback. Start with `SearchCluster.start`."""

    engine: Engine
    build: Build
    directory: Path
    name: str
    nodes: list[SearchNode] = field(default_factory=list)
    started_in: float = 0.0

    @property
    def hosts(self) -> list[str]:
        """The HTTP URLs of all nodes, for a client's `hosts`."""
        return [n.url for n in self.nodes]

    @classmethod
    def start(cls, engine: Engine | str, directory: Path, *, size: int = 3, timeout: float = 240) -> "SearchCluster":
        """Build if needed, start `size` nodes, and wait until all joined and the cluster is green."""
        engine = ENGINES[engine] if isinstance(engine, str) else engine
        b = build(engine)
        started = time.monotonic()
        cluster = cls(engine, b, directory, f"sentinel-{engine.name}-{uuid.uuid4().hex[:8]}")
        cluster._lay_out(size)
        try:
            for node in cluster.nodes:
                node.start()
            cluster.wait_for(nodes=size, status="green", timeout=timeout)
            cluster.wait_for_voting_configuration(size, timeout=60)
        except BaseException:
            cluster.stop()
            raise
        cluster.started_in = time.monotonic() - started
        return cluster

    def _lay_out(self, size: int) -> None:
        home = self.directory / "home"
        (home / "config").mkdir(parents=True, exist_ok=True)
        (home / "config" / "log4j2.properties").write_text(
            LOG4J2_CONSOLE.replace("ENGINE", self.engine.name), encoding="utf-8")
        if self.engine is ELASTICSEARCH:
            self._elasticsearch_modules(home / "modules")
        ports = free_ports(2 * size)
        names = [f"{self.engine.name}-{i}" for i in range(size)]
        seeds = ",".join(f"127.0.0.1:{ports[2 * i + 1]}" for i in range(size))
        for i, name in enumerate(names):
            node_dir = self.directory / name
            settings = {
                "cluster.name": self.name,
                "node.name": name,
                "path.home": str(home),
                "path.data": str(node_dir / "data"),
                "path.logs": str(node_dir / "logs"),
                "network.host": "127.0.0.1",
                "http.port": str(ports[2 * i]),
                "transport.port": str(ports[2 * i + 1]),
                "discovery.seed_hosts": seeds,
                self.engine.initial_masters_setting: ",".join(names),
                "cluster.routing.allocation.disk.threshold_enabled": "false",
            }
            command = [str(self.build.jdk.java), f"-Xms{self.engine.heap_mb}m", f"-Xmx{self.engine.heap_mb}m",
                       f"-Djava.io.tmpdir={node_dir / 'tmp'}",
                       *COMMON_JVM_OPTIONS, *self._class_path_options(),
                       self.engine.main_class, *(f"{k}={v}" for k, v in settings.items())]
            self.nodes.append(SearchNode(name, ports[2 * i], ports[2 * i + 1], node_dir, command))

    def _class_path_options(self) -> list[str]:
        if self.engine is OPENSEARCH:
            return ["-cp", os.pathsep.join(map(str, [self.build.artifact(), *self.build.lib]))]
        # Elasticsearch: the server on the module path as in a distribution, its netty transport
        # loaded as a module from path.home/modules, the launcher on the class path.
        server = [p for p in self.build.lib if not _is_netty_module_jar(p)]
        return [*self.engine.extra_jvm_options, "--module-path", os.pathsep.join(map(str, server)),
                "-cp", str(self.build.artifact("launcher"))]

    def _elasticsearch_modules(self, modules: Path) -> None:
        netty = modules / "transport-netty4"
        netty.mkdir(parents=True, exist_ok=True)
        for jar in self.build.lib:
            if _is_netty_module_jar(jar):
                shutil.copy2(jar, netty)
                if jar.name.startswith("transport-netty4-"):
                    with zipfile.ZipFile(jar) as z:
                        descriptor = z.read("META-INF/es-plugins/transport-netty4/plugin-descriptor.properties")
                    (netty / "plugin-descriptor.properties").write_bytes(descriptor)
        root = modules / "rest-root"
        root.mkdir(parents=True, exist_ok=True)
        shutil.copy2(self.build.artifact("rest-root"), root)
        shutil.copy2(self.engine.project / "src" / "main" / "module" / "plugin-descriptor.properties", root)

    # --- observing and breaking ---

    def health(self, **params: str) -> dict:
        """`GET _cluster/health` from the first live node."""
        query = "&".join(f"{k}={v}" for k, v in params.items())
        last: Exception | None = None
        for node in self.nodes:
            if not node.alive:
                continue
            try:
                return _get_json(f"{node.url}/_cluster/health?{query}", timeout=30)
            except (OSError, urllib.error.URLError, ValueError) as e:
                last = e
        raise ClusterFailed(f"{self.engine.name} 集群没有可用的节点应答：{last}")

    def wait_for(self, *, nodes: int, status: str = "yellow", timeout: float = 120) -> dict:
        """Wait until `nodes` nodes joined and the health is at least `status`."""
        deadline = time.monotonic() + timeout
        last = "（还没有应答）"
        while time.monotonic() < deadline:
            dead = [n for n in self.nodes if n.process is not None and not n.alive]
            expected_dead = [n for n in dead if n.process and n.process.returncode == -signal.SIGKILL]
            crashed = [n for n in dead if n not in expected_dead]
            if crashed:
                n = crashed[0]
                raise ClusterFailed(f"{self.engine.name} 节点 {n.name} 退出了（退出码 {n.process.returncode}），"
                                    f"日志 {n.log_path} 的最后几行：\n{n.log_tail()}")
            try:
                h = self.health(wait_for_nodes=str(nodes), wait_for_status=status, timeout="2s")
                last = json.dumps(h, ensure_ascii=False)
                if not h.get("timed_out") and h.get("number_of_nodes") == nodes:
                    return h
            except ClusterFailed as e:
                last = str(e)
            time.sleep(0.5)
        tails = "\n".join(f"--- {n.name}\n{n.log_tail(10)}" for n in self.nodes)
        raise ClusterFailed(f"{self.engine.name} 集群 {timeout:.0f} 秒内没有达到 {nodes} 个节点、{status} 状态；"
                            f"最后的健康状态：{last}\n{tails}")

    def wait_for_voting_configuration(self, size: int, timeout: float = 60) -> list[str]:
        """Wait until every one of `size` nodes votes. Right after bootstrapping, the committed voting
        configuration may still hold a placeholder for a node that had not joined yet; killing a real
        voter then would leave the others without a quorum, which is not the failure a test means."""
        deadline = time.monotonic() + timeout
        config: list[str] = []
        while time.monotonic() < deadline:
            for node in self.nodes:
                if not node.alive:
                    continue
                try:
                    state = _get_json(f"{node.url}/_cluster/state/metadata"
                                      "?filter_path=metadata.cluster_coordination.last_committed_config")
                except (OSError, urllib.error.URLError, ValueError):
                    continue
                config = state["metadata"]["cluster_coordination"]["last_committed_config"]
                if len(config) == size and not any("placeholder" in c for c in config):
                    return config
                break
            time.sleep(0.3)
        raise ClusterFailed(f"{self.engine.name} 集群 {timeout:.0f} 秒内没有让全部 {size} 个节点参与选举；"
                            f"当前投票配置：{config}")

    def kill(self, index: int) -> SearchNode:
        """kill -9 node `index` (its JVM); returns it so the test can restart it."""
        node = self.nodes[index]
        node.kill()
        return node

    def restart(self, index: int) -> None:
        """Start node `index` again on its old ports and data directory."""
        self.nodes[index].start()

    def stop(self) -> None:
        """Stop every node (closing its stdin, then SIGTERM, then SIGKILL) and delete the data."""
        for node in self.nodes:
            node.request_stop()
        for node in self.nodes:
            node.wait_stopped(timeout=30)
        for node in self.nodes:
            shutil.rmtree(node.directory / "data", ignore_errors=True)


def _is_netty_module_jar(jar: Path) -> bool:
    return jar.name.startswith(("netty-", "transport-netty4-"))
