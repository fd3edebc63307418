#!/bin/sh
# The localnet soak (issue 19): runs `atoll localnet` on its default plan for MINUTES (default 60),
# prints one line a minute (height, epoch, validators, and per ParaTime the committee's epoch, its
# workers and the latest round) and counts the samples where a ParaTime had no committee, or one
# older than the previous epoch ("lost"). Stops the network at the end and exits 1 if any sample
# lost a committee. A long run for docs/PERFORMANCE.md, not part of the test suite.
#
# usage: scripts/soak-localnet.sh [MINUTES] [ATOLL_BINARY]   (default: target/release/atoll)
set -eu
minutes=${1:-60}
atoll=${2:-target/release/atoll}
[ -x "$atoll" ] || { echo "no atoll binary at $atoll (cargo build --release -p atoll-cli)"; exit 2; }
dir=$(mktemp -d /tmp/atoll-soak.XXXXXX)
"$atoll" localnet --data-dir "$dir/net" > "$dir/localnet.out" 2>&1 &
net=$!
trap 'kill -TERM $net 2>/dev/null; wait $net 2>/dev/null || true' EXIT INT TERM
i=0
while [ ! -f "$dir/net/localnet.json" ] && [ $i -lt 300 ]; do sleep 1; i=$((i+1)); done
[ -f "$dir/net/localnet.json" ] || { echo "the localnet did not start: see $dir/localnet.out"; exit 1; }
echo "soak: $minutes min, network in $dir/net"
lost=0
i=0
while [ $i -lt "$minutes" ]; do
  sleep 60
  i=$((i+1))
  line=$("$atoll" network status --localnet "$dir/net" --json 2>/dev/null | node -e '
let text = "";
process.stdin.on("data", (c) => { text += c; });
process.stdin.on("end", () => {
  const now = new Date().toISOString().slice(11, 19);
  let d;
  try { d = JSON.parse(text); } catch { console.log(now, "status failed LOST"); return; }
  let lost = false;
  const parts = d.paratimes.map((p) => {
    const c = p.committee || {};
    const workers = (c.members || []).filter((m) => m.role === "worker").length;
    if (!workers || c.epoch == null || c.epoch + 1 < d.epoch) lost = true;
    return `${p.id.slice(-6)}: committee of epoch ${c.epoch}, ${workers} workers, round ${p.latest_round}`;
  });
  console.log(now, `height ${d.latest_height} epoch ${d.epoch} validators ${d.validators.length} |`, parts.join("; "), lost ? "LOST" : "");
});
') || line="status failed LOST"
  echo "$line"
  case "$line" in *LOST*) lost=$((lost+1));; esac
done
echo "soak: $minutes samples, $lost with a lost committee"
[ "$lost" -eq 0 ]
