#!/bin/sh
# Requests per second and latency of pinpoint-serve under wrk at 1, 4 and 16 concurrent clients,
# against `pinpoint bench infer` on the same architecture at batch 16 (the service's default
# largest batch), for each checkpoint given. A benchmark, not a test: Docs/Serve.md quotes it.
#
#   apt-get install wrk
#   make build && (cd Serve && swift build -c release --product pinpoint-serve)
#   sh Scripts/measure_serve.sh IMAGE.jpg cnn.safetensors mnv2.safetensors
set -eu
image=$1; shift
port=${PORT:-8097}
seconds=${SECONDS_PER_RUN:-15}
lua=$(mktemp)
trap 'rm -f "$lua"; kill "$server" 2>/dev/null || true' EXIT
cat > "$lua" <<LUA
wrk.method = "POST"
local f = io.open("$image", "rb"); wrk.body = f:read("*a"); f:close()
wrk.headers["Content-Type"] = "image/jpeg"
LUA
for model in "$@"; do
    case "$model" in *mnv*|*mobilenet*) kind=mobilenetv2 ;; *) kind=seed-cnn ;; esac
    size=$(python3 -c "import json,struct,sys; b=open(sys.argv[1],'rb').read(); n=struct.unpack('<Q',b[:8])[0]; print(json.loads(b[8:8+n])['__metadata__']['image_size'])" "$model")
    echo "== $model ($kind at $size)"
    .build/release/pinpoint bench infer --model "$kind" --image-size "$size" --batch 16 --steps 10 --json | sed 's/^/bench infer: /'
    Serve/.build/release/pinpoint-serve --model "$model" --port "$port" > /dev/null 2>&1 &
    server=$!
    until curl -sf "http://127.0.0.1:$port/healthz" > /dev/null; do sleep 0.5; done
    curl -s --data-binary @"$image" "http://127.0.0.1:$port/predict" > /dev/null   # warm-up
    for clients in 1 4 16; do
        threads=$([ "$clients" = 1 ] && echo 1 || echo 2)
        echo "-- $clients clients"
        wrk -t"$threads" -c"$clients" -d"${seconds}s" --latency -s "$lua" "http://127.0.0.1:$port/predict" \
            | grep -E "Requests/sec|^ +50%|^ +99%|Non-2xx|Socket errors"
    done
    kill "$server"; wait "$server" 2>/dev/null || true
done
