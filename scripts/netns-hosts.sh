#!/usr/bin/env bash
# Fake hosts on one machine for Open MPI's multi-host path: network namespaces joined by
# veth pairs to a bridge, each "host" reached by mpirun through an agent that runs
# `ip netns exec` where ssh would run.
#
#   netns-hosts.sh up PREFIX COUNT     creates namespaces PREFIX1..COUNT (10.231.N.2..) and
#                                     the bridge PREFIX-br (10.231.N.1); prints the agent's path
#   netns-hosts.sh down PREFIX COUNT   removes them
#   netns-hosts.sh agent HOST CMD...   (what plm_rsh_agent runs) CMD inside namespace HOST
#
# Needs root and CAP_NET_ADMIN; exits 77 when namespaces cannot be made here.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
action=$1
case "$action" in
agent)
  host=$2; shift 2
  # The hostfile names hosts by address: find the namespace that holds it.
  for ns in $(ip netns list | cut -d' ' -f1); do
    if ip -n "$ns" -4 -o addr show | grep -q " $host/"; then
      # Open MPI passes the remote command as one shell string, as to ssh.
      exec ip netns exec "$ns" /bin/sh -c "$*"
    fi
  done
  echo "netns-hosts.sh: no namespace has address $host" >&2
  exit 1
  ;;
up)
  prefix=$2; count=$3; net=${NETNS_SUBNET:-10.231.7}
  ip link add "$prefix-br" type bridge 2>/dev/null || exit 77
  ip addr add "$net.1/24" dev "$prefix-br"
  ip link set "$prefix-br" up
  for i in $(seq 1 "$count"); do
    ns="$prefix$i"
    ip netns add "$ns"
    ip link add "$ns-h" type veth peer name "$ns-n"
    ip link set "$ns-h" master "$prefix-br" up
    ip link set "$ns-n" netns "$ns"
    ip -n "$ns" link set "$ns-n" name eth0
    ip -n "$ns" addr add "$net.$((i + 1))/24" dev eth0
    ip -n "$ns" link set eth0 up
    ip -n "$ns" link set lo up
  done
  echo "$here/netns-hosts.sh"
  ;;
down)
  prefix=$2; count=$3
  for i in $(seq 1 "$count"); do ip netns del "$prefix$i" 2>/dev/null || true; done
  ip link del "$prefix-br" 2>/dev/null || true
  ;;
*) echo "usage: netns-hosts.sh up|down PREFIX COUNT | agent HOST CMD..." >&2; exit 2 ;;
esac
