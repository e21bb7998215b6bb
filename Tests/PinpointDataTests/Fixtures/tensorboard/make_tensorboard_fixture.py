"""TensorBoard fixture for SummaryWriterTests: an event file written by TensorBoard's own
protobuf classes and record writer, and the scalars its EventAccumulator reads back.

    /work/venv/bin/pip install tensorboard
    /work/venv/bin/python Tests/PinpointDataTests/Fixtures/tensorboard/make_tensorboard_fixture.py

Pinpoint's SummaryWriter, given the same wall times, must write these bytes exactly.
"""
import json
import os
import tempfile

import tensorboard
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.compat.proto import event_pb2, summary_pb2
from tensorboard.summary.writer.record_writer import RecordWriter

here = os.path.dirname(os.path.abspath(__file__))
start = 1764806400.25
scalars = [  # (wall time, step, tag, value)
    (start + 10.5, 1, "train_loss", 0.0391),
    (start + 10.5, 1, "val_loss", 0.03096),
    (start + 10.5, 1, "val_mean_iou", 0.1333),
    (start + 21.0, 2, "train_loss", 0.0333),
    (start + 21.0, 2, "val_loss", 0.02917),
    (start + 21.0, 2, "val_mean_iou", 0.119),
    (start + 31.75, 3, "learning_rate", 5e-05),
]
path = os.path.join(here, "events.out.tfevents.fixture")
with open(path, "wb") as f:
    writer = RecordWriter(f)
    writer.write(event_pb2.Event(wall_time=start, file_version="brain.Event:2").SerializeToString())
    for wall_time, step, tag, value in scalars:
        summary = summary_pb2.Summary(value=[summary_pb2.Summary.Value(tag=tag, simple_value=value)])
        writer.write(event_pb2.Event(wall_time=wall_time, step=step, summary=summary).SerializeToString())
    writer.flush()

accumulator = EventAccumulator(path)
accumulator.Reload()
read = {tag: [[e.wall_time, e.step, e.value] for e in accumulator.Scalars(tag)] for tag in accumulator.Tags()["scalars"]}
with open(os.path.join(here, "tensorboard_scalars.json"), "w") as f:
    json.dump({"tensorboard": tensorboard.__version__, "start": start, "written": scalars, "read": read}, f, indent=1)
print(f"wrote {path} and tensorboard_scalars.json: {sum(len(v) for v in read.values())} scalars read back")
