#!/usr/bin/env bash
# A single-node Apache Kafka (KRaft, no ZooKeeper) for tests, run straight
# from Maven Central's jars: no registry here ships Kafka's release tarball.
#   kafka.sh install                      resolve the jars into the cache if missing
#   kafka.sh start DIR PORT CONTROLLER_PORT [NAMESPACE]
#                                         also creates the seed's topics, named
#                                         "<NAMESPACE><topic>" as Dapr names them
#   kafka.sh stop DIR
#   kafka.sh topics PORT ARGS...          kafka-topics (TopicCommand) against 127.0.0.1:PORT
#   kafka.sh consume PORT TOPIC           print every (JSON) message of TOPIC so far, one per line
set -euo pipefail
. "$(dirname "$0")/common.sh"

home="$CACHE/kafka-$KAFKA_VERSION"

# The seed's topic layout (chart/values.yaml's kafka.topics makes the same on
# Kubernetes; chart/tests checks that they agree): topic:partitions, and a
# 7-day retention. Events are keyed by user, so each user's events stay in
# order within their partition.
seed_topics="task-events:3 reminders:1 task-updates:3"
seed_retention_ms=604800000
libs="$home/libs"

install() {
    [ -f "$libs/.complete" ] && return 0
    command -v java >/dev/null || apt_install openjdk-17-jre-headless
    command -v mvn >/dev/null || apt_install maven
    java -version 2>&1 | grep -qE 'version "(1[7-9]|[2-9][0-9])' || die "Kafka 4 needs Java >= 17: $(java -version 2>&1 | head -1)"
    mkdir -p "$home"
    # A throwaway pom whose only purpose is its dependency list: the broker
    # (kafka_2.13), the admin tools (kafka-tools: TopicCommand, ...) and a
    # log4j2 backend for their logging: Kafka's poms declare slf4j-api 1.7,
    # so the binding is log4j-slf4j-impl (for SLF4J 1.x), not -slf4j2-impl.
    cat >"$home/pom.xml" <<POM
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>todo-system</groupId><artifactId>kafka-libs</artifactId><version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId><version>$KAFKA_VERSION</version></dependency>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka-tools</artifactId><version>$KAFKA_VERSION</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-slf4j-impl</artifactId><version>$LOG4J_VERSION</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-core</artifactId><version>$LOG4J_VERSION</version></dependency>
  </dependencies>
</project>
POM
    rm -rf "$libs"
    # Maven's own repository stays under the cache root too (one rm clears all).
    mvn -B -q -f "$home/pom.xml" -Dmaven.repo.local="$CACHE/maven" \
        "org.apache.maven.plugins:maven-dependency-plugin:$MAVEN_DEPENDENCY_PLUGIN_VERSION:copy-dependencies" \
        -DincludeScope=runtime -DoutputDirectory="$libs" >"$home/install.log" 2>&1 ||
        { cat "$home/install.log" >&2; die "resolving Kafka $KAFKA_VERSION from Maven Central failed"; }
    touch "$libs/.complete"
}

run_java() { java -cp "$libs/*" "$@"; }

topics() {
    local port=$1; shift
    run_java -Dlog4j2.level=warn org.apache.kafka.tools.TopicCommand --bootstrap-server "127.0.0.1:$port" "$@"
}

# Reads TOPIC from the start and stops once nothing more comes for 3 s
# (which the tool reports as an error, on stdout: keep the JSON lines only).
consume() {
    run_java -Dlog4j2.level=warn org.apache.kafka.tools.consumer.ConsoleConsumer \
        --bootstrap-server "127.0.0.1:$1" --topic "$2" --from-beginning --timeout-ms 3000 2>/dev/null |
        grep '^{' || true
}

# listening_or_dead PID PORT: PORT accepts connections, or PID has exited
# (checked right after, so a broker that dies at start fails fast).
listening_or_dead() {
    kill -0 "$1" 2>/dev/null || return 0
    (exec 3<>"/dev/tcp/127.0.0.1/$2")
}

start() {
    local dir=$1 port=$2 cport=$3 namespace=${4:-}
    install
    need_free_port "$port"; need_free_port "$cport"
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    # One process is both broker and KRaft controller; every replication
    # factor is 1 because there is one node; loopback listeners only.
    cat >"$dir/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=127.0.0.1:$cport
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport
advertised.listeners=PLAINTEXT://127.0.0.1:$port
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$dir/data
# Topics nobody created first (Dapr's, whose names carry the namespace the
# sidecar runs in, e.g. the tests' own namespaces) get the seed's partition
# count for its busy topics and its retention, so that the tests run on
# several partitions as a cluster does.
num.partitions=3
log.retention.hours=168
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
# Tests want their consumer groups to start at once, not after 3 s.
group.initial.rebalance.delay.ms=0
PROPS
    cat >"$dir/log4j2.properties" <<'LOG'
appender.out.type = Console
appender.out.name = out
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.out.ref = out
logger.kafka.name = kafka
logger.kafka.level = WARN
logger.apache.name = org.apache.kafka
logger.apache.level = WARN
logger.state.name = state.change.logger
logger.state.level = WARN
LOG
    # Format the log dir once (a restart reuses it): a new cluster id, and
    # --standalone makes this node the whole controller quorum.
    if [ ! -f "$dir/data/meta.properties" ]; then
        run_java kafka.tools.StorageTool format --standalone -c "$dir/server.properties" \
            -t "$(run_java kafka.tools.StorageTool random-uuid)" >"$dir/format.log" 2>&1 ||
            die "formatting Kafka storage failed (see $dir/format.log)"
    fi
    # A 1 GiB heap cap (the JVM would take a quarter of RAM): plenty for tests.
    nohup java -Xms256m -Xmx1g -Dlog4j2.configurationFile="$dir/log4j2.properties" \
        -cp "$libs/*" kafka.Kafka "$dir/server.properties" >"$dir/kafka.log" 2>&1 &
    echo $! >"$dir/kafka.pid"
    wait_for 60 "Kafka on 127.0.0.1:$port (see $dir/kafka.log)" listening_or_dead "$!" "$port"
    kill -0 "$(cat "$dir/kafka.pid")" 2>/dev/null || die "Kafka exited at start (see $dir/kafka.log)"
    # The port opens before the broker has joined its own quorum: ready means
    # a topic can be created.
    wait_for 60 "Kafka topic creation on 127.0.0.1:$port (see $dir/kafka.log)" \
        topics "$port" --create --if-not-exists --topic __todo_ready --partitions 1 --replication-factor 1
    local spec
    for spec in $seed_topics; do
        topics "$port" --create --if-not-exists --topic "$namespace${spec%%:*}" --partitions "${spec##*:}" \
            --replication-factor 1 --config "retention.ms=$seed_retention_ms" >/dev/null
    done
}

stop() {
    stop_pid "$1/kafka.pid"
}

case "${1:-}" in
    install) install ;;
    start) [ $# = 4 ] || [ $# = 5 ] || die "usage: $0 start DIR PORT CONTROLLER_PORT [NAMESPACE]"; start "$2" "$3" "$4" "${5:-}" ;;
    stop) [ $# = 2 ] || die "usage: $0 stop DIR"; stop "$2" ;;
    topics) [ $# -ge 2 ] || die "usage: $0 topics PORT ARGS..."; shift; install; topics "$@" ;;
    consume) [ $# = 3 ] || die "usage: $0 consume PORT TOPIC"; install; consume "$2" "$3" ;;
    *) die "usage: $0 install | start DIR PORT CONTROLLER_PORT [NAMESPACE] | stop DIR | topics PORT ARGS... | consume PORT TOPIC" ;;
esac
