#!/usr/bin/env python3
"""Pinpoint against TensorFlow on this machine, measured alternately, written to Docs/Performance.md.

For every case (the tutorial CNN training at 224 and 128 and inferring at 224, the two-head
MobileNetV2 training and inferring at 224; batch 40, 2 threads), each round runs TensorFlow's
variants and then `pinpoint bench`, each in a fresh process, so both see the same state of a
shared machine. A case's figure is the median over rounds of each side's median images/s;
TensorFlow counts with the faster of its two variants (`train_on_batch` or a `tf.function`
step; `predict_on_batch` or a `tf.function` call). Ratios are the result: absolute figures on a
shared machine move by 10-25% from run to run.

  python3 -m venv /work/venv && /work/venv/bin/pip install tensorflow-cpu==2.21.0 numpy
  swift build -c release --product pinpoint
  /work/venv/bin/python Scripts/compare_tensorflow.py [--rounds 2] [--steps 10] [--no-write]

One case alone (prints TensorFlow's JSON line): python Scripts/compare_tensorflow.py --tf seed train 224 fn
CI never runs this: it needs TensorFlow.
"""
import argparse, datetime, json, os, platform, re, resource, statistics, subprocess, sys, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
THREADS, BATCH, WARMUP = 2, 40, 3
CASES = [  # (label, model, mode, image size)
    ("tutorial CNN, train, 224", "seed", "train", 224),
    ("tutorial CNN, train, 128", "seed", "train", 128),
    ("tutorial CNN, inference, 224", "seed", "infer", 224),
    ("MobileNetV2 two-head, train, 224", "mnv2", "train", 224),
    ("MobileNetV2 two-head, inference, 224", "mnv2", "infer", 224),
]
VARIANTS = {"train": ("tob", "fn"), "infer": ("pob", "fn")}


def tensorflow_case(model_name, mode, img, variant, steps):
    """One TensorFlow measurement in this process: the models and losses of Pinpoint's bench."""
    import numpy as np
    import tensorflow as tf
    tf.config.threading.set_intra_op_parallelism_threads(THREADS)
    tf.config.threading.set_inter_op_parallelism_threads(THREADS)
    import keras
    keras.utils.set_random_seed(0)
    layers = keras.layers
    rng = np.random.default_rng(0)
    x = rng.random((BATCH, img, img, 3), dtype=np.float32)
    if model_name == "seed":
        stack = [keras.Input((img, img, 3))]
        for filters in (32, 64, 128, 256):
            stack += [layers.Conv2D(filters, 3, activation="relu", padding="same"), layers.MaxPool2D(padding="same")]
        stack += [layers.Flatten(), layers.Dense(1024, activation="relu"), layers.Dropout(0.4), layers.Dense(4, activation="sigmoid")]
        model, loss = keras.Sequential(stack), keras.losses.MeanSquaredError()
        y = rng.random((BATCH, 4), dtype=np.float32)
    else:
        base = keras.applications.MobileNetV2(weights=None, include_top=False, input_shape=(img, img, 3))
        features = layers.GlobalAveragePooling2D()(base.output)

        def head(units, activation):
            h = features
            for width in (256, 64):
                h = layers.ReLU()(layers.BatchNormalization()(layers.Dense(width)(h)))
            return layers.Dense(units, activation=activation)(h)

        model = keras.Model(base.input, layers.Concatenate()([head(2, "softmax"), head(4, "sigmoid")]))
        cross_entropy = keras.losses.SparseCategoricalCrossentropy()

        def loss(target, prediction):  # target = [class, x, y, w, h]
            return cross_entropy(target[:, 0], prediction[:, :2]) + 5.0 * tf.reduce_mean(tf.square(target[:, 1:] - prediction[:, 2:]))
        y = np.concatenate([rng.integers(0, 2, (BATCH, 1)), rng.random((BATCH, 4))], 1).astype(np.float32)
    optimizer = keras.optimizers.RMSprop(learning_rate=1e-4, momentum=0.9)
    xt, yt = tf.constant(x), tf.constant(y)
    if mode == "train" and variant == "tob":
        model.compile(optimizer=optimizer, loss=loss)
        run = lambda: model.train_on_batch(x, y)
    elif mode == "train":
        optimizer.build(model.trainable_variables)

        @tf.function
        def step(images, targets):
            with tf.GradientTape() as tape:
                value = loss(targets, model(images, training=True))
            optimizer.apply_gradients(zip(tape.gradient(value, model.trainable_variables), model.trainable_variables))
            return value
        run = lambda: step(xt, yt).numpy()
    elif variant == "pob":
        run = lambda: model.predict_on_batch(x)
    else:
        call = tf.function(lambda images: model(images, training=False))
        run = lambda: call(xt).numpy()
    for _ in range(WARMUP):
        run()
    rates = []
    for _ in range(steps):
        start = time.perf_counter()
        run()
        rates.append(BATCH / (time.perf_counter() - start))
    return dict(images_per_second=statistics.median(rates), min=min(rates), max=max(rates),
                peak_rss_mib=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, tensorflow=tf.__version__)


def run_tensorflow(model, mode, img, variant, steps):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    r = subprocess.run([sys.executable, __file__, "--tf", model, mode, str(img), variant, "--steps", str(steps)],
                       capture_output=True, text=True, env=env)
    if r.returncode != 0:
        raise SystemExit(f"TensorFlow case {model} {mode} {img} {variant} failed:\n{r.stderr[-2000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def run_pinpoint(binary, model, mode, img, steps):
    name = "seed-cnn" if model == "seed" else "mobilenetv2"
    command = [binary, "bench", mode, "--model", name, "--image-size", str(img), "--batch", str(BATCH), "--steps", str(steps),
               "--warmup", str(WARMUP), "--json"]
    r = subprocess.run(command, capture_output=True, text=True, env=dict(os.environ, PINPOINT_THREADS=str(THREADS)))
    if r.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{r.stderr[-2000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def machine():
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), platform.processor())
    flags = next((line.split(":", 1)[1].split() for line in open("/proc/cpuinfo") if line.startswith("flags")), [])
    simd = " ".join(f for f in ("avx2", "fma", "avx512f", "avx512_bf16", "avx512_fp16", "amx_tile") if f in flags)
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    swift = subprocess.run(["swift", "--version"], capture_output=True, text=True).stdout.strip().splitlines()
    return f"{cpu}, {os.cpu_count()} cores ({simd}), {memory:.0f} GiB; {platform.platform()}; {swift[0] if swift else 'swift ?'}"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--pinpoint", default=os.path.join(ROOT, ".build/release/pinpoint"))
    parser.add_argument("--no-write", action="store_true", help="print the table, leave Docs/Performance.md alone")
    parser.add_argument("--only", metavar="TEXT", help="run only the cases whose label contains TEXT (implies --no-write)")
    parser.add_argument("--tf", nargs=4, metavar=("MODEL", "MODE", "IMG", "VARIANT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.tf:
        model, mode, img, variant = args.tf
        print(json.dumps(tensorflow_case(model, mode, int(img), variant, args.steps)), flush=True)
        return
    if not os.access(args.pinpoint, os.X_OK):
        raise SystemExit(f"{args.pinpoint}: not built (swift build -c release --product pinpoint)")
    cases = [c for c in CASES if args.only is None or args.only in c[0]]
    if not cases:
        raise SystemExit(f"--only {args.only!r}: no case label contains it ({'; '.join(c[0] for c in CASES)})")
    results = {label: {"tf": [], "pinpoint": [], "tf_rss": [], "pinpoint_rss": [], "tf_variant": []} for label, *_ in cases}
    version = "?"
    for round_index in range(args.rounds):
        for label, model, mode, img in cases:
            best = None
            for variant in VARIANTS[mode]:
                r = run_tensorflow(model, mode, img, variant, args.steps)
                version = r["tensorflow"]
                if best is None or r["images_per_second"] > best[1]["images_per_second"]:
                    best = (variant, r)
            p = run_pinpoint(args.pinpoint, model, mode, img, args.steps)
            entry = results[label]
            entry["tf"].append(best[1]["images_per_second"])
            entry["tf_rss"].append(best[1]["peak_rss_mib"])
            entry["tf_variant"].append(best[0])
            entry["pinpoint"].append(p["images_per_second"])
            entry["pinpoint_rss"].append(p["peak_rss_mib"])
            print(f"round {round_index + 1}/{args.rounds} {label}: TensorFlow {best[1]['images_per_second']:.1f} ({best[0]}), "
                  f"Pinpoint {p['images_per_second']:.1f} images/s", file=sys.stderr, flush=True)

    rows = ["| case | TensorFlow images/s | Pinpoint images/s | Pinpoint / TensorFlow | peak RSS TF / Pinpoint (MiB) |",
            "| --- | --- | --- | --- | --- |"]
    for label, *_ in cases:
        e = results[label]
        tf_rate, pp_rate = statistics.median(e["tf"]), statistics.median(e["pinpoint"])
        variants = "/".join(sorted(set(e["tf_variant"])))
        rows.append(f"| {label} | {tf_rate:.1f} ({variants}) | {pp_rate:.1f} | **{pp_rate / tf_rate:.2f}x** | "
                    f"{statistics.median(e['tf_rss']):.0f} / {statistics.median(e['pinpoint_rss']):.0f} |")
    command = f"{sys.executable} Scripts/compare_tensorflow.py --rounds {args.rounds} --steps {args.steps}"
    section = "\n".join([
        "<!-- comparison:begin (written by Scripts/compare_tensorflow.py) -->",
        f"Measured {datetime.date.today().isoformat()} on {machine()}; TensorFlow {version} (oneDNN on by default).",
        f"Batch {BATCH}, {THREADS} threads, {WARMUP} warm-up then {args.steps} timed steps per process; medians of {args.rounds} "
        "alternating rounds. TensorFlow counts with its faster variant (tob = train_on_batch, fn = tf.function, "
        "pob = predict_on_batch).", "",
        *rows, "",
        "```",
        command,
        "```",
        "<!-- comparison:end -->",
    ])
    print(section)
    if not args.no_write and args.only is None:
        path = os.path.join(ROOT, "Docs/Performance.md")
        text = open(path).read()
        pattern = re.compile(r"<!-- comparison:begin.*?<!-- comparison:end -->", re.S)
        text = pattern.sub(lambda _: section, text) if pattern.search(text) else text.rstrip() + "\n\n" + section + "\n"
        open(path, "w").write(text)
        print(f"wrote {path}", file=sys.stderr)


if __name__ == "__main__":
    main()
