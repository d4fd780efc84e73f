"""Apache Kafka for the scaled-out Tempo: its jars from Maven Central (fetched once with `mvn`
into the cache and reused), its KRaft storage formatted, and the broker's command line."""
from __future__ import annotations

import base64
import shutil
import subprocess
import uuid
from pathlib import Path

from plano_obs.config import paths
from plano_obs.errors import PlanoError

BROKER_CLASS = "kafka.Kafka"
STORAGE_TOOL_CLASS = "kafka.tools.StorageTool"  # what `kafka-storage.sh` runs in Kafka 4.x


class KafkaError(PlanoError):
    """Kafka's jars cannot be had, or its storage cannot be formatted."""


_POM = """<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.plano-observability</groupId>
  <artifactId>kafka-runtime</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_{scala}</artifactId><version>{version}</version></dependency>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka-tools</artifactId><version>{version}</version></dependency>
  </dependencies>
</project>
"""


def home(version: str) -> Path:
    return paths.cache_dir() / f"kafka-{version}"


def java() -> str:
    found = shutil.which("java")
    if not found:
        raise KafkaError("no `java` on PATH: Kafka needs a Java 17+ runtime", "install one, e.g. `apt-get install openjdk-17-jre-headless`")
    return found


def ensure_jars(version: str, scala: str) -> Path:
    """The folder holding Kafka's runtime jars, fetched with Maven the first time."""
    libs = home(version) / "libs"
    if (home(version) / ".complete").exists():
        return libs
    mvn = shutil.which("mvn")
    if not mvn:
        raise KafkaError(f"Kafka {version}'s jars are not in {libs} and there is no `mvn` to fetch them",
                         "install Maven (`apt-get install maven`), or put the jars of org.apache.kafka:kafka_"
                         f"{scala}:{version} and its runtime dependencies in {libs} and create {home(version) / '.complete'}")
    home(version).mkdir(parents=True, exist_ok=True)
    pom = home(version) / "pom.xml"
    pom.write_text(_POM.format(scala=scala, version=version))
    partial = home(version) / "libs.partial"
    shutil.rmtree(partial, ignore_errors=True)
    print(f"  fetching Kafka {version}'s jars from Maven Central into {libs} (once)")
    r = subprocess.run([mvn, "-q", "-B", "-f", str(pom), "dependency:copy-dependencies", "-DincludeScope=runtime",
                        f"-DoutputDirectory={partial}"], capture_output=True, text=True, timeout=900)
    if r.returncode != 0 or not any(partial.glob(f"kafka_{scala}-{version}.jar")):
        tail = (r.stdout + r.stderr).strip().splitlines()[-3:]
        raise KafkaError(f"mvn could not fetch org.apache.kafka:kafka_{scala}:{version}: {' | '.join(tail)}",
                         "check that Maven Central answers and that _config.scale.kafka.version exists")
    shutil.rmtree(libs, ignore_errors=True)
    partial.rename(libs)
    (home(version) / ".complete").write_text(f"org.apache.kafka:kafka_{scala}:{version}\n")
    return libs


def classpath(libs: Path) -> str:
    return str(libs / "*")


def new_cluster_id() -> str:
    """A random KRaft cluster id (a UUID in URL-safe base64, as `kafka-storage random-uuid`
    makes). Never one starting with '-': the storage tool would read it as an option and fail
    ("argument --cluster-id/-t: expected one argument"), one start in 64. Kafka's own
    Uuid.randomUuid draws again for the same reason."""
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cluster_id.startswith("-"):
            return cluster_id


def format_storage(libs: Path, properties: Path, log_dir: Path, heap_mb: int) -> None:
    """KRaft needs its log folder formatted with a cluster id before the first start."""
    if (log_dir / "meta.properties").exists():
        return
    cluster_id = new_cluster_id()
    r = subprocess.run([java(), f"-Xmx{heap_mb}m", "-cp", classpath(libs), STORAGE_TOOL_CLASS, "format",
                        "-t", cluster_id, "-c", str(properties)], capture_output=True, text=True, timeout=120)
    if r.returncode != 0:
        lines = [line for line in (r.stdout + r.stderr).splitlines() if line.strip() and not line.startswith("SLF4J")]
        raise KafkaError(f"formatting Kafka's storage in {log_dir} failed: {' | '.join(lines[-2:])}",
                         f"remove {log_dir} and start again")


def broker_argv(libs: Path, properties: Path, heap_mb: int) -> list[str]:
    return [java(), f"-Xmx{heap_mb}m", f"-Xms{min(heap_mb, 128)}m", "-XX:+UseSerialGC",
            "-cp", classpath(libs), BROKER_CLASS, str(properties)]
