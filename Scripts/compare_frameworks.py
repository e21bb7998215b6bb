#!/usr/bin/env python3
"""Pinpoint against TensorFlow and PyTorch on this machine, measured alternately, written to Docs/Performance.md.

For every case (the tutorial CNN training at 224 and 128 and inferring at 224, the two-head
MobileNetV2 training and inferring at 224; batch 40, 2 threads), each round runs TensorFlow's
variants, PyTorch, and then `pinpoint bench` (the plain `swift build -c release` binary, and with
--flagged a second binary to compare builds), each in a fresh process, so all see the same state
of a shared machine. A case's figure is the median over rounds of each side's median images/s;
TensorFlow counts with the faster of its two variants (`train_on_batch` or a `tf.function`
step; `predict_on_batch` or a `tf.function` call), PyTorch runs eagerly in channels_last (its
faster layout on CPU). Ratios are the result: absolute figures on a shared machine move by
10-25% from run to run. The machine's FP32 peak comes from `pinpoint cpu --peak`.

  python3 -m venv /work/venv && /work/venv/bin/pip install tensorflow-cpu==2.21.0 numpy torch
  swift build -c release --product pinpoint
  /work/venv/bin/python Scripts/compare_frameworks.py [--rounds 2] [--steps 10] [--flagged BINARY] [--no-write]

One case alone (prints one JSON line): --tf seed train 224 fn, or --torch mnv2 infer 224 cl.
CI never runs this: it needs TensorFlow and PyTorch.
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


def time_steps(run, steps):
    """Images/s of `run` (one batch) over `steps` timed calls after WARMUP untimed ones, and this process's peak RSS."""
    for _ in range(WARMUP):
        run()
    rates = []
    for _ in range(steps):
        start = time.perf_counter()
        run()
        rates.append(BATCH / (time.perf_counter() - start))
    return dict(images_per_second=statistics.median(rates), min=min(rates), max=max(rates),
                peak_rss_mib=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


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
    return dict(time_steps(run, steps), tensorflow=tf.__version__)


def torch_case(model_name, mode, img, layout, steps):
    """One PyTorch measurement in this process: the same models, losses and optimizer, eager mode."""
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
    torch.set_num_threads(THREADS)
    torch.set_num_interop_threads(1)
    torch.manual_seed(0)
    x = torch.rand(BATCH, 3, img, img)
    if model_name == "seed":
        stack, cin = [], 3
        for filters in (32, 64, 128, 256):  # ceil_mode: Keras's MaxPool2D(padding="same") at stride 2
            stack += [nn.Conv2d(cin, filters, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2, ceil_mode=True)]
            cin = filters
        side = -(-img // 16)
        stack += [nn.Flatten(), nn.Linear(256 * side * side, 1024), nn.ReLU(), nn.Dropout(0.4), nn.Linear(1024, 4), nn.Sigmoid()]
        model, y, loss = nn.Sequential(*stack), torch.rand(BATCH, 4), F.mse_loss
    else:
        # keras.applications.MobileNetV2 (alpha 1.0, no top), written out: torchvision's PyPI
        # wheel is built against CUDA torch libraries.
        def conv_bn(cin, cout, kernel=1, stride=1, groups=1, relu=True):
            return [nn.Conv2d(cin, cout, kernel, stride, kernel // 2, groups=groups, bias=False), nn.BatchNorm2d(cout, eps=1e-3)] \
                + ([nn.ReLU6()] if relu else [])

        class InvertedResidual(nn.Module):
            def __init__(self, cin, cout, stride, expansion):
                super().__init__()
                hidden, self.residual = cin * expansion, stride == 1 and cin == cout
                self.body = nn.Sequential(*(conv_bn(cin, hidden) if expansion != 1 else []),
                                          *conv_bn(hidden, hidden, 3, stride, hidden), *conv_bn(hidden, cout, relu=False))

            def forward(self, t):
                return t + self.body(t) if self.residual else self.body(t)

        blocks, cin = conv_bn(3, 32, 3, 2), 32
        for expansion, cout, repeats, stride in ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1),
                                                 (6, 160, 3, 2), (6, 320, 1, 1)):
            for i in range(repeats):
                blocks.append(InvertedResidual(cin, cout, stride if i == 0 else 1, expansion))
                cin = cout
        features = nn.Sequential(*blocks, *conv_bn(320, 1280))

        def head(units):
            return nn.Sequential(nn.Linear(1280, 256), nn.BatchNorm1d(256), nn.ReLU(), nn.Linear(256, 64), nn.BatchNorm1d(64),
                                 nn.ReLU(), nn.Linear(64, units))

        class TwoHead(nn.Module):
            def __init__(self):
                super().__init__()
                self.features, self.cls, self.box = features, head(2), head(4)

            def forward(self, t):
                pooled = self.features(t).mean((2, 3))
                return torch.cat([self.cls(pooled).softmax(1), self.box(pooled).sigmoid()], 1)

        model = TwoHead()
        y = torch.cat([torch.randint(0, 2, (BATCH, 1)).float(), torch.rand(BATCH, 4)], 1)

        def loss(p, target):  # sparse cross-entropy on the softmax + 5 x MSE on the box
            return F.nll_loss(p[:, :2].clamp_min(1e-7).log(), target[:, 0].long()) + 5 * F.mse_loss(p[:, 2:], target[:, 1:])
    if layout == "cl":
        model, x = model.to(memory_format=torch.channels_last), x.to(memory_format=torch.channels_last)
    optimizer = torch.optim.RMSprop(model.parameters(), lr=1e-4, alpha=0.9, eps=1e-7, momentum=0.9)  # Keras's rho, epsilon

    def train():
        optimizer.zero_grad(set_to_none=True)
        loss(model(x), y).backward()
        optimizer.step()

    def infer():
        with torch.inference_mode():
            model(x)
    model.train(mode == "train")
    run = train if mode == "train" else infer
    return dict(time_steps(run, steps), torch=torch.__version__)


def run_torch(model, mode, img, steps):
    r = subprocess.run([sys.executable, __file__, "--torch", model, mode, str(img), "cl", "--steps", str(steps)],
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"PyTorch case {model} {mode} {img} failed:\n{r.stderr[-2000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def peak_gigaflops(binary):
    r = subprocess.run([binary, "cpu", "--peak"], capture_output=True, text=True, env=dict(os.environ, PINPOINT_THREADS=str(THREADS)),
                       check=True)
    return float(re.search(r"FP32 peak: ([0-9.]+) GFLOP/s", r.stdout).group(1))


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


def kernel_set(binary):
    out = subprocess.run([binary, "cpu"], capture_output=True, text=True, check=True).stdout
    return re.search(r"in use: (\S+)", out).group(1)


def openblas_core(binary):
    out = subprocess.run([binary, "cpu"], capture_output=True, text=True, check=True).stdout
    return re.search(r"OpenBLAS kernels: (\S+)", out).group(1)


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
    parser.add_argument("--flagged", metavar="BINARY", help="a second pinpoint build (the Makefile's flagged one) to time alongside")
    parser.add_argument("--no-write", action="store_true", help="print the table, leave Docs/Performance.md alone")
    parser.add_argument("--table", metavar="NAME", help="the table's name in Docs/Performance.md (default: the kernel set); "
                        "a second machine of the same kernel set gets its own table under another name")
    parser.add_argument("--only", metavar="TEXT", help="run only the cases whose label contains TEXT (implies --no-write)")
    parser.add_argument("--tf", nargs=4, metavar=("MODEL", "MODE", "IMG", "VARIANT"), help=argparse.SUPPRESS)
    parser.add_argument("--torch", nargs=4, metavar=("MODEL", "MODE", "IMG", "LAYOUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.tf:
        model, mode, img, variant = args.tf
        print(json.dumps(tensorflow_case(model, mode, int(img), variant, args.steps)), flush=True)
        return
    if args.torch:
        model, mode, img, layout = args.torch
        print(json.dumps(torch_case(model, mode, int(img), layout, args.steps)), flush=True)
        return
    if not os.access(args.pinpoint, os.X_OK):
        raise SystemExit(f"{args.pinpoint}: not built (swift build -c release --product pinpoint)")
    cases = [c for c in CASES if args.only is None or args.only in c[0]]
    if not cases:
        raise SystemExit(f"--only {args.only!r}: no case label contains it ({'; '.join(c[0] for c in CASES)})")
    keys = ("tf", "torch", "pinpoint", "flagged", "tf_rss", "torch_rss", "pinpoint_rss", "tf_variant", "gflops")
    results = {label: {key: [] for key in keys} for label, *_ in cases}
    version, torch_version = "?", "?"
    peak = peak_gigaflops(args.pinpoint)
    for round_index in range(args.rounds):
        for label, model, mode, img in cases:
            best = None
            for variant in VARIANTS[mode]:
                r = run_tensorflow(model, mode, img, variant, args.steps)
                version = r["tensorflow"]
                if best is None or r["images_per_second"] > best[1]["images_per_second"]:
                    best = (variant, r)
            t = run_torch(model, mode, img, args.steps)
            torch_version = t["torch"]
            p = run_pinpoint(args.pinpoint, model, mode, img, args.steps)
            f = run_pinpoint(args.flagged, model, mode, img, args.steps) if args.flagged else None
            entry = results[label]
            entry["tf"].append(best[1]["images_per_second"])
            entry["tf_rss"].append(best[1]["peak_rss_mib"])
            entry["tf_variant"].append(best[0])
            entry["torch"].append(t["images_per_second"])
            entry["torch_rss"].append(t["peak_rss_mib"])
            entry["pinpoint"].append(p["images_per_second"])
            entry["pinpoint_rss"].append(p["peak_rss_mib"])
            entry["gflops"].append(p["gflops"])
            if f:
                entry["flagged"].append(f["images_per_second"])
            print(f"round {round_index + 1}/{args.rounds} {label}: TensorFlow {best[1]['images_per_second']:.1f} ({best[0]}), "
                  f"PyTorch {t['images_per_second']:.1f}, Pinpoint {p['images_per_second']:.1f}"
                  + (f", flagged build {f['images_per_second']:.1f}" if f else "") + " images/s", file=sys.stderr, flush=True)

    flagged_header = " flagged build / plain |" if args.flagged else ""
    rows = ["| case | TensorFlow | PyTorch | Pinpoint | Pinpoint / TF | Pinpoint / PyTorch | Pinpoint GFLOP/s (of peak) |"
            + flagged_header + " peak RSS TF / PyTorch / Pinpoint (MiB) |",
            "| --- | --- | --- | --- | --- | --- | --- |" + (" --- |" if args.flagged else "") + " --- |"]
    for label, *_ in cases:
        e = results[label]
        tf_rate, torch_rate, pp_rate = (statistics.median(e[k]) for k in ("tf", "torch", "pinpoint"))
        gflops = statistics.median(e["gflops"])
        variants = "/".join(sorted(set(e["tf_variant"])))
        flagged = f" {statistics.median(e['flagged']) / pp_rate:.2f} |" if args.flagged else ""
        rows.append(f"| {label} | {tf_rate:.1f} ({variants}) | {torch_rate:.1f} | {pp_rate:.1f} | **{pp_rate / tf_rate:.2f}x** | "
                    f"**{pp_rate / torch_rate:.2f}x** | {gflops:.0f} ({100 * gflops / peak:.0f}%) |{flagged} "
                    f"{statistics.median(e['tf_rss']):.0f} / {statistics.median(e['torch_rss']):.0f} / "
                    f"{statistics.median(e['pinpoint_rss']):.0f} |")
    command = (f"{sys.executable} Scripts/compare_frameworks.py --rounds {args.rounds} --steps {args.steps}"
               + (" --flagged FLAGGED_BINARY" if args.flagged else "") + (f" --table {args.table}" if args.table else ""))
    coretype = os.environ.get("OPENBLAS_CORETYPE")
    # One table per kind of machine (by default, per kernel set): machines differ from session to
    # session, and a run on one kind replaces only that kind's table.
    kernels = kernel_set(args.pinpoint)
    table = args.table or kernels
    section = "\n".join([
        f"<!-- comparison:begin {table} (written by Scripts/compare_frameworks.py) -->",
        f"Measured {datetime.date.today().isoformat()} on {machine()}; TensorFlow {version} (oneDNN on by default), "
        f"PyTorch {torch_version} (CPU, eager, channels_last). Environment: OPENBLAS_CORETYPE "
        + (f"= {coretype}" if coretype else "unset") + f"; Pinpoint's kernel set {kernels}, "
        f"OpenBLAS kernels {openblas_core(args.pinpoint)}. FP32 peak (`pinpoint cpu --peak`, {THREADS} threads): {peak:.0f} GFLOP/s.",
        f"Batch {BATCH}, {THREADS} threads, {WARMUP} warm-up then {args.steps} timed steps per process; medians of {args.rounds} "
        "alternating rounds; images/s. TensorFlow counts with its faster variant (tob = train_on_batch, fn = tf.function, "
        "pob = predict_on_batch). Pinpoint's GFLOP/s count a Winograd convolution's work as the direct convolution's, so "
        "they can exceed what its multiply-adds alone would reach.", "",
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
        pattern = re.compile(rf"<!-- comparison:begin {re.escape(table)} .*?<!-- comparison:end -->", re.S)
        text = pattern.sub(lambda _: section, text) if pattern.search(text) else text.rstrip() + "\n\n" + section + "\n"
        open(path, "w").write(text)
        print(f"wrote {path}", file=sys.stderr)


if __name__ == "__main__":
    main()
