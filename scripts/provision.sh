#!/usr/bin/env bash
# Installs what the test suite needs on a fresh Debian/Ubuntu machine, as root.
# Idempotent: does nothing where everything is already present.
#   redis-server, redis-sentinel, haproxy, nginx, chromium, keepalived, wrk (OS packages)
#   the Hazelcast member jar (Maven Central, through mvn) into .cache/hazelcast/
set -euo pipefail
cd "$(dirname "$0")/.."

HAZELCAST_VERSION="${HAZELCAST_VERSION:-5.5.0}"
JAR_DIR=".cache/hazelcast"
JAR="$JAR_DIR/hazelcast-$HAZELCAST_VERSION.jar"

need=()
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
command -v redis-sentinel >/dev/null 2>&1 || need+=(redis-sentinel)
command -v haproxy >/dev/null 2>&1 || need+=(haproxy)
command -v nginx >/dev/null 2>&1 || need+=(nginx)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v java >/dev/null 2>&1 || need+=(default-jre-headless)
command -v mvn >/dev/null 2>&1 || need+=(maven)
command -v openssl >/dev/null 2>&1 || need+=(openssl)   # the Redis TLS test makes its own CA
# The load-balancer failover test runs keepalived (VRRP) in network namespaces (iproute2's ip netns).
[ -x /usr/sbin/keepalived ] || command -v keepalived >/dev/null 2>&1 || need+=(keepalived)
command -v ip >/dev/null 2>&1 || need+=(iproute2)
# The proxy benchmark's load generator (a C process of its own, so that it is not the bottleneck).
command -v wrk >/dev/null 2>&1 || need+=(wrk)

if [ "${#need[@]}" -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  echo "provision: installing ${need[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  # The Debian packages start system services; the tests start their own on free ports.
  for svc in redis-server redis-sentinel haproxy nginx keepalived; do
    $SUDO systemctl disable --now "$svc" >/dev/null 2>&1 || $SUDO service "$svc" stop >/dev/null 2>&1 || true
  done
fi

if [ ! -s "$JAR" ]; then
  echo "provision: fetching com.hazelcast:hazelcast:$HAZELCAST_VERSION"
  mkdir -p "$JAR_DIR"
  mvn -q -B dependency:copy \
    -Dartifact="com.hazelcast:hazelcast:$HAZELCAST_VERSION" \
    -DoutputDirectory="$JAR_DIR" >/dev/null
fi

echo "provision: ok (redis $(redis-server --version | sed -E 's/.*v=([^ ]+).*/\1/'), haproxy $(haproxy -v | head -1 | awk '{print $3}'), $(/usr/sbin/keepalived --version 2>&1 | head -1 | awk '{print $1, $2}'), $(basename "$JAR"))"
