#!/bin/sh
# Requests per second and latency of pinpoint-serve under wrk at 1, 4 and 16 concurrent clients,
# each run right after a `pinpoint bench infer` of the same architecture at batch 16 (the
# service's default largest batch), so that every ratio compares two measurements taken a few
# seconds apart on the same machine. A benchmark, not a test: Docs/Serve.md quotes it.
#
#   apt-get install wrk
#   make build && (cd Serve && swift build -c release --product pinpoint-serve)
#   sh Scripts/measure_serve.sh IMAGE.jpg cnn.safetensors mnv2.safetensors
#   SERVE_ARGS=--jpeg-draft ROUNDS=3 sh Scripts/measure_serve.sh IMAGE.jpg cnn.safetensors
#
# Prints one line per run: clients, bench infer images/s, requests/s, their ratio, p50, p99.
set -eu
image=$1; shift
port=${PORT:-8097}
seconds=${SECONDS_PER_RUN:-10}
rounds=${ROUNDS:-2}
lua=$(mktemp)
server=
trap 'rm -f "$lua"; [ -n "$server" ] && kill "$server" 2>/dev/null || true' EXIT
cat > "$lua" <<LUA
wrk.method = "POST"
local f = io.open("$image", "rb"); wrk.body = f:read("*a"); f:close()
wrk.headers["Content-Type"] = "image/jpeg"
LUA
for model in "$@"; do
    case "$model" in *mnv*|*mobilenet*) kind=mobilenetv2 ;; *) kind=seed-cnn ;; esac
    size=$(python3 -c "import json,struct,sys; b=open(sys.argv[1],'rb').read(); n=struct.unpack('<Q',b[:8])[0]; print(json.loads(b[8:8+n])['__metadata__']['image_size'])" "$model")
    echo "== $model ($kind at $size), ${SERVE_ARGS:-default options}"
    # shellcheck disable=SC2086  # SERVE_ARGS holds several options
    Serve/.build/release/pinpoint-serve --model "$model" --port "$port" ${SERVE_ARGS:-} > /dev/null 2>&1 &
    server=$!
    until curl -sf "http://127.0.0.1:$port/healthz" > /dev/null; do sleep 0.5; done
    curl -s --data-binary @"$image" "http://127.0.0.1:$port/predict" > /dev/null   # warm-up
    echo "clients  bench-img/s  req/s  ratio  p50  p99"
    for clients in 1 4 16; do
        threads=$([ "$clients" = 1 ] && echo 1 || echo 2)
        round=0
        while [ "$round" -lt "$rounds" ]; do
            round=$((round + 1))
            bench=$(.build/release/pinpoint bench infer --model "$kind" --image-size "$size" --batch 16 --steps 10 --json \
                | sed 's/.*"images_per_second": \([0-9.]*\).*/\1/')
            wrk -t"$threads" -c"$clients" -d"${seconds}s" --latency -s "$lua" "http://127.0.0.1:$port/predict" > "$lua.out"
            if grep -qE "Non-2xx|Socket errors" "$lua.out"; then cat "$lua.out"; fi
            rps=$(awk '/Requests\/sec/ {print $2}' "$lua.out")
            p50=$(awk '$1 == "50%" {print $2}' "$lua.out"); p99=$(awk '$1 == "99%" {print $2}' "$lua.out")
            echo "$clients $bench $rps $p50 $p99" | awk '{printf "%7d  %11.1f  %5.1f  %4.0f%%  %s  %s\n", $1, $2, $3, 100 * $3 / $2, $4, $5}'
        done
    done
    kill "$server"; wait "$server" 2>/dev/null || true
    server=
done
rm -f "$lua.out"
