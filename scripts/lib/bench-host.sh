# shellcheck shell=bash
# What the bench scripts share besides their daemons (scripts/lib/private-dockerd.sh): putting the host back after
# podman, crun, runc and containerd, which create host-wide state whatever their flags say, and the Markdown table
# of a hyperfine run. Sourced (bash).
#
#   . scripts/lib/bench-host.sh
#   bench_host_save "$work" '/(libpod_parent)(/|$)'   # before anything runs: what exists now
#   bench_host_hugetlb_for_crun                      # only where crun runs
#   trap '...; bench_host_restore' EXIT              # after the daemons are stopped, before "$work" is removed
#   bench_table "$work/x.json"

# Host-wide paths that podman, crun and containerd create (state dirs, podman's blob-info cache, the CNI lock, the
# docker CLI's config dir): the ones that do not exist at bench_host_save are removed by bench_host_restore. A script
# that runs fewer of these tools sets a shorter BH_WATCH after sourcing.
BH_WATCH=(/run/crun /run/runc /run/containers /run/libpod /run/containerd /run/docker /var/lib/containers
  /etc/cni/net.d/cni.lock /root/.docker)
BH_ABSENT=() BH_WORK= BH_CGROUPS= BH_HUGETLB_MOUNTED=0 BH_HUGETLB_DIR_MADE=0

# bench_host_save WORK CGROUP_REGEX: remembers the watched paths that are absent and the cgroup directories that
# exist; new cgroups whose path matches CGROUP_REGEX (extended regex) are removed by bench_host_restore.
# Two bench scripts at once would remove each other's state (crun's /run/crun of a running podman container), so
# this also takes an exclusive lock that is held until the script exits: a second one waits.
bench_host_save() {
  BH_WORK=$1 BH_CGROUPS=$2
  local p
  exec {BH_LOCK_FD}>/tmp/skiff-bench-host.lock
  flock -n "$BH_LOCK_FD" || { echo "[bench] waiting for another bench script to finish" >&2; flock "$BH_LOCK_FD"; }
  for p in "${BH_WATCH[@]}"; do [ -e "$p" ] || BH_ABSENT+=("$p"); done
  find /sys/fs/cgroup -mindepth 2 -type d 2>/dev/null | sort >"$BH_WORK/cgroups.before"
}

# crun refuses cgroup v1/v2 hybrid mode while a controller (here hugetlb, not mounted as v1) shows in cgroup2's
# cgroup.controllers: mount hugetlb as a v1 hierarchy for the run (undone by bench_host_restore).
bench_host_hugetlb_for_crun() {
  if [ -s /sys/fs/cgroup/unified/cgroup.controllers ] && grep -qw hugetlb /sys/fs/cgroup/unified/cgroup.controllers &&
    ! grep -q ' /sys/fs/cgroup/hugetlb ' /proc/self/mountinfo; then
    [ -d /sys/fs/cgroup/hugetlb ] || { mkdir /sys/fs/cgroup/hugetlb; BH_HUGETLB_DIR_MADE=1; }
    mount -t cgroup -o hugetlb cgroup /sys/fs/cgroup/hugetlb
    BH_HUGETLB_MOUNTED=1
  fi
}

# deepest first, so that rmdir (which only removes empty cgroups) can take parents after children
bh_rmdir_deepest_first() { awk '{print length, $0}' | sort -rn | cut -d' ' -f2- | while read -r d; do rmdir "$d" 2>/dev/null; done; }

# bench_host_restore: removes the new, empty cgroups that match (never skiff/: other skiffds share this host) and
# reports the other new ones, undoes the hugetlb mount, removes the watched paths that were absent.
bench_host_restore() {
  set +e
  if [ -n "$BH_WORK" ] && [ -f "$BH_WORK/cgroups.before" ]; then
    find /sys/fs/cgroup -mindepth 2 -type d 2>/dev/null | sort | comm -13 "$BH_WORK/cgroups.before" - |
      grep -E "$BH_CGROUPS" | bh_rmdir_deepest_first
    find /sys/fs/cgroup -mindepth 2 -type d 2>/dev/null | sort | comm -13 "$BH_WORK/cgroups.before" - |
      sed 's/^/[bench] cgroup created during the run and still there (maybe not ours): /' >&2
  fi
  if [ "$BH_HUGETLB_MOUNTED" = 1 ]; then
    find /sys/fs/cgroup/hugetlb -mindepth 1 -type d | bh_rmdir_deepest_first
    umount /sys/fs/cgroup/hugetlb
  fi
  [ "$BH_HUGETLB_DIR_MADE" = 1 ] && rmdir /sys/fs/cgroup/hugetlb
  local p
  for p in "${BH_ABSENT[@]}"; do rm -rf "$p"; done
  return 0
}

# bench_table JSON: hyperfine's JSON as a Markdown table with mean ± stddev, median, min, max (ms) and runs.
bench_table() {
  echo "| command | mean ± σ (ms) | median (ms) | min (ms) | max (ms) | runs |"
  echo "|---|---|---|---|---|---|"
  jq -r '.results[] | "| \(.command) | \(.mean*1000*100|round/100) ± \((.stddev // 0)*1000*100|round/100) | \(.median*1000*100|round/100) | \(.min*1000*100|round/100) | \(.max*1000*100|round/100) | \(.times|length) |"' "$1"
}
