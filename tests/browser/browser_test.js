// browser_test.js: the drawing page in a real browser (Debian's chromium, headless, through
// playwright-core). It draws digits stroke by stroke with a mouse, a pen and a finger, checks that
// the page shows the right prediction, the ten bars and the 28x28 the model saw, that clearing
// works, and that the page fetched nothing but this server's own URLs. Run by ../cli_browser.sh
// with MNIST_SERVE_URL (the server's base URL) and OUT_DIR (screenshots go there).
"use strict";
const fs = require("fs");
const path = require("path");
const { chromium } = require("playwright-core");

const base = process.env.MNIST_SERVE_URL;
const outDir = process.env.OUT_DIR || ".";
const executablePath = process.env.CHROMIUM || "/usr/bin/chromium";
if (!base) {
  console.error("browser_test.js: set MNIST_SERVE_URL to the server's base URL");
  process.exit(2);
}

let passed = 0, failed = 0;
function check(name, ok, detail) {
  if (ok) passed++;
  else { failed++; console.log("FAIL: " + name + (detail ? " (" + detail + ")" : "")); }
}

// Digits as strokes in pad coordinates (0..1, y down). The "4" takes two strokes.
function ellipse(cx, cy, rx, ry, n) {
  const pts = [];
  for (let i = 0; i <= n; i++) {
    const t = -Math.PI / 2 + (2 * Math.PI * i) / n;
    pts.push([cx + rx * Math.cos(t), cy + ry * Math.sin(t)]);
  }
  return pts;
}
const DIGITS = {
  0: [ellipse(0.5, 0.5, 0.2, 0.32, 48)],
  1: [[[0.52, 0.15], [0.5, 0.5], [0.48, 0.85]]],
  4: [[[0.32, 0.15], [0.26, 0.58], [0.74, 0.58]], [[0.62, 0.3], [0.62, 0.88]]],
  7: [[[0.25, 0.18], [0.75, 0.18], [0.6, 0.5], [0.44, 0.86]]],
};

// Points along a polyline, about `step` apart (so each stroke is many pointer moves).
function densify(stroke, step) {
  const out = [stroke[0]];
  for (let i = 1; i < stroke.length; i++) {
    const [x0, y0] = stroke[i - 1], [x1, y1] = stroke[i];
    const n = Math.max(1, Math.ceil(Math.hypot(x1 - x0, y1 - y0) / step));
    for (let k = 1; k <= n; k++) out.push([x0 + ((x1 - x0) * k) / n, y0 + ((y1 - y0) * k) / n]);
  }
  return out;
}

async function padBox(page) {
  const b = await page.locator("#draw").boundingBox();
  return p => [b.x + p[0] * b.width, b.y + p[1] * b.height];
}

// The three kinds of pointer: Playwright's mouse, and a pen and a finger through the DevTools
// protocol (chromium turns both into pointer events with pointerType "pen" / "touch").
async function drawMouse(page, strokes) {
  const at = await padBox(page);
  for (const s of strokes) {
    const pts = densify(s, 0.02).map(at);
    await page.mouse.move(pts[0][0], pts[0][1]);
    await page.mouse.down();
    for (const [x, y] of pts.slice(1)) await page.mouse.move(x, y);
    await page.mouse.up();
  }
}
async function drawPen(page, cdp, strokes) {
  const at = await padBox(page);
  for (const s of strokes) {
    const pts = densify(s, 0.02).map(at);
    const ev = (type, [x, y], extra) => cdp.send("Input.dispatchMouseEvent",
      Object.assign({ type, x, y, pointerType: "pen", button: "left", buttons: 1, force: 0.5 }, extra));
    await ev("mousePressed", pts[0], { clickCount: 1 });
    for (const p of pts.slice(1)) await ev("mouseMoved", p, {});
    await ev("mouseReleased", pts[pts.length - 1], { buttons: 0, clickCount: 1 });
  }
}
async function drawTouch(page, cdp, strokes) {
  const at = await padBox(page);
  for (const s of strokes) {
    const pts = densify(s, 0.02).map(at);
    const touch = ([x, y]) => [{ x, y, id: 1, radiusX: 4, radiusY: 4, force: 1 }];
    await cdp.send("Input.dispatchTouchEvent", { type: "touchStart", touchPoints: touch(pts[0]) });
    for (const p of pts.slice(1))
      await cdp.send("Input.dispatchTouchEvent", { type: "touchMove", touchPoints: touch(p) });
    await cdp.send("Input.dispatchTouchEvent", { type: "touchEnd", touchPoints: [] });
  }
}

// Waits until the page shows an answer for the drawing as it is now; returns what it shows.
async function answer(page) {
  await page.waitForFunction(() => document.body.dataset.state === "ready" &&
    document.body.dataset.answered === document.body.dataset.version, null, { timeout: 60000 });
  return page.evaluate(() => {
    const seen = document.getElementById("seen").getContext("2d").getImageData(0, 0, 28, 28).data;
    let ink = 0;
    for (let i = 0; i < seen.length; i += 4) ink += seen[i] > 128 ? 1 : 0;
    const rows = [...document.querySelectorAll("#bars li")];
    return {
      digit: document.getElementById("digit").textContent.trim(),
      status: document.getElementById("status").textContent,
      bars: rows.length,
      top: rows.findIndex(li => li.classList.contains("top")),
      widths: rows.map(li => parseFloat(li.querySelector(".fill").style.width) || 0),
      ink,
    };
  });
}

async function main() {
  fs.mkdirSync(outDir, { recursive: true });
  const browser = await chromium.launch({
    executablePath,
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
           "--disable-component-update", "--no-first-run"],
  });
  const origin = new URL(base).origin;
  const foreign = [], errors = [];
  try {
    // Reduced motion: no bar animations, so screenshots show the final bars.
    const context = await browser.newContext({ viewport: { width: 1000, height: 760 },
                                               deviceScaleFactor: 1, hasTouch: true,
                                               reducedMotion: "reduce" });
    const page = await context.newPage();
    page.setDefaultTimeout(60000); // generous: CI machines are shared
    page.on("request", r => {
      const u = r.url();
      if (!u.startsWith(origin + "/") && !u.startsWith("data:")) foreign.push(u);
    });
    page.on("pageerror", e => errors.push(e.message));
    page.on("console", m => { if (m.type() === "error") errors.push(m.text()); });
    const cdp = await context.newCDPSession(page);

    const res = await page.goto(base, { waitUntil: "load" });
    check("GET / answers 200", res && res.status() === 200, res && res.status());
    await page.waitForFunction(() => /parameters/.test(document.getElementById("model").textContent),
                               null, { timeout: 60000 });
    check("the page names the model", /Model .*safetensors/.test(await page.textContent("#model")));
    check("it starts by asking for a digit",
          (await page.textContent("#status")) === "draw a digit" &&
          (await page.getAttribute("body", "data-state")) === "idle");

    const plan = [["1", "touch", drawTouch], ["7", "pen", drawPen], ["0", "mouse", drawMouse],
                  ["4", "mouse", drawMouse]];
    for (const [want, how, draw] of plan) {
      if (await page.isEnabled("#clear")) await page.click("#clear");
      const t0 = Date.now();
      if (draw === drawMouse) await draw(page, DIGITS[want]);
      else await draw(page, cdp, DIGITS[want]);
      const a = await answer(page);
      console.log(`drew a ${want} (${how}, ${DIGITS[want].length} stroke${DIGITS[want].length > 1 ? "s" : ""}): ` +
                  `the page shows ${a.digit}, "${a.status}" in ${Date.now() - t0} ms`);
      check(`a ${want} drawn with ${how} is read as ${want}`, a.digit === want, "shows " + a.digit);
      check(`ten bars, the top one is ${want}`, a.bars === 10 && String(a.top) === a.digit, a.top);
      const sum = a.widths.reduce((x, y) => x + y, 0);
      check("the bars add up to 100%", Math.abs(sum - 100) < 1.5, sum.toFixed(2));
      check("the 28x28 the model saw has ink", a.ink > 20 && a.ink < 500, a.ink + " pixels");
      await page.screenshot({ path: path.join(outDir, `digit-${want}.png`), fullPage: true });
      if (want === "4") { // two strokes, and softmax spreads some probability: the best picture
        await page.screenshot({ path: path.join(outDir, "page.png"), fullPage: true });
        console.log("screenshot: " + path.join(outDir, "page.png"));
      }
    }

    // Undo the 4's second stroke: the page asks again and answers for what is left.
    await page.click("#undo");
    const u = await answer(page);
    check("undo re-predicts the drawing without its last stroke", u.digit !== "" && u.bars === 10);

    await page.click("#clear");
    await page.waitForFunction(() => document.body.dataset.state === "idle");
    check("clear empties the answer", (await page.textContent("#digit")).trim() === "?" &&
          (await page.textContent("#status")) === "draw a digit");
    const blank = await page.evaluate(() => {
      const d = document.getElementById("draw");
      const px = d.getContext("2d").getImageData(0, 0, d.width, d.height).data;
      for (let i = 0; i < px.length; i += 4) if (px[i] < 250) return false;
      return true;
    });
    check("clear wipes the drawing", blank);
    // Escape clears too.
    await drawMouse(page, DIGITS["1"]);
    await answer(page);
    await page.keyboard.press("Escape");
    check("Escape clears", (await page.getAttribute("body", "data-state")) === "idle");

    check("nothing fetched from elsewhere", foreign.length === 0, foreign.join(", "));
    check("no errors in the console", errors.length === 0, errors.join(" | "));
    await context.close();
  } finally {
    await browser.close();
  }
}

main().then(() => {
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
}, e => {
  console.log("FAIL: " + (e && e.stack || e));
  console.log(`${passed} passed, ${failed + 1} failed`);
  process.exit(1);
});
