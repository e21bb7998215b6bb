/// The page at GET /: pick or drop an image, see it with the predicted box and class. Everything
/// is inline (no script, style or font is fetched from anywhere); `/?sample` runs the server's
/// `--sample` image as soon as the page loads, which is how Docs/Serve.md's screenshot is made.
enum Page {
    static let html = #"""
<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Pinpoint</title>
<style>
  body { font-family: sans-serif; margin: 2em auto; max-width: 760px; color: #222; }
  #drop { border: 2px dashed #888; border-radius: 8px; padding: 1.5em; text-align: center; cursor: pointer; }
  #drop.over { background: #eef; }
  canvas { margin-top: 1em; max-width: 100%; display: none; }
  #result { font-size: 1.1em; margin-top: 0.5em; min-height: 1.5em; }
  .error { color: #b00; }
  small { color: #666; }
</style>
</head>
<body>
<h1>Pinpoint</h1>
<p id="model"><small>loading the model's description...</small></p>
<div id="drop">Drop a JPEG or PNG here, or click to choose one.<input id="file" type="file" accept="image/jpeg,image/png" hidden></div>
<div id="result"></div>
<canvas id="canvas"></canvas>
<script>
const drop = document.getElementById("drop"), file = document.getElementById("file");
const result = document.getElementById("result"), canvas = document.getElementById("canvas");
fetch("/metadata").then(r => r.json()).then(m => {
  const a = m.model;
  document.getElementById("model").innerHTML = "<small>model: " + a.architecture + (a.alpha ? " (alpha " + a.alpha + ")" : "") +
    " at " + a.image_size + "x" + a.image_size + "</small>";
});
drop.onclick = () => file.click();
file.onchange = () => { if (file.files[0]) predict(file.files[0]); };
drop.ondragover = e => { e.preventDefault(); drop.classList.add("over"); };
drop.ondragleave = () => drop.classList.remove("over");
drop.ondrop = e => { e.preventDefault(); drop.classList.remove("over"); if (e.dataTransfer.files[0]) predict(e.dataTransfer.files[0]); };

async function predict(blob) {
  result.textContent = "predicting...";
  result.className = "";
  const response = await fetch("/predict", { method: "POST", body: blob });
  const answer = await response.json();
  if (!response.ok) { result.textContent = answer.error; result.className = "error"; canvas.style.display = "none"; return; }
  const image = new Image();
  image.onload = () => {
    canvas.width = image.naturalWidth; canvas.height = image.naturalHeight;
    const g = canvas.getContext("2d");
    g.drawImage(image, 0, 0);
    const [x0, y0, x1, y1] = answer.box, line = Math.max(2, Math.min(image.naturalWidth, image.naturalHeight) / 150);
    g.lineWidth = line; g.strokeStyle = "#e00"; g.strokeRect(x0, y0, x1 - x0, y1 - y0);
    const label = answer.class ? answer.class + " " + (100 * answer.probability).toFixed(1) + "%" : "head";
    g.font = Math.max(14, Math.round(image.naturalHeight / 20)) + "px sans-serif";
    const height = parseInt(g.font), width = g.measureText(label).width + 8;
    g.fillStyle = "#e00"; g.fillRect(x0, Math.max(0, y0 - height - 6), width, height + 6);
    g.fillStyle = "#fff"; g.fillText(label, x0 + 4, Math.max(height, y0 - 5));
    canvas.style.display = "block";
    result.textContent = (answer.class ? label + ", " : "") + "box (" + answer.box.map(v => v.toFixed(1)).join(", ") +
      ") in the image's pixels, " + answer.elapsed_ms.toFixed(1) + " ms";
  };
  image.src = URL.createObjectURL(blob);
}
if (new URLSearchParams(location.search).has("sample")) fetch("/sample").then(r => r.blob()).then(predict);
</script>
</body>
</html>
"""#
}
