// regen serve's pages in headless Chromium (Debian's `chromium`), driven by Playwright
// (npm `playwright-core`, which downloads no browser). Run from the repository root after
// `cargo build --release -p regen-cli`:
//
//   (cd crates/regen-serve/browser && npm ci && node test.mjs)
//
// REGEN_BIN and CHROMIUM override the binary and browser paths. Screenshots go to
// target/browser/ for a look.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, "../../..");
const regen = process.env.REGEN_BIN || path.join(root, "target/release/regen");
const executablePath = process.env.CHROMIUM || "/usr/bin/chromium";
const shots = path.join(root, "target/browser");
fs.mkdirSync(shots, { recursive: true });

// The runs page watches a copy of the fixture, which a test then extends.
const runs = fs.mkdtempSync(path.join(os.tmpdir(), "regen-browser-runs-"));
fs.cpSync(path.join(root, "crates/regen-serve/tests/fixtures/runs"), runs, { recursive: true });

const server = spawn(regen, ["serve", "--port", "0", "--runs", runs], {
  stdio: ["ignore", "pipe", "inherit"],
});
const base = await new Promise((resolve, reject) => {
  let out = "";
  server.stdout.on("data", (d) => {
    out += d;
    const m = out.match(/http:\/\/127\.0\.0\.1:(\d+)\//);
    if (m) resolve(`http://localhost:${m[1]}`);
  });
  server.on("exit", (code) => reject(new Error(`regen serve exited with ${code}: ${out}`)));
  setTimeout(() => reject(new Error("regen serve did not start in 30 s")), 30000);
});

const browser = await chromium.launch({ executablePath, args: ["--no-sandbox"] });
const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, acceptDownloads: true });
const page = await context.newPage();
page.on("pageerror", (e) => console.error(`page error: ${e.message}`));

async function open(route) {
  await page.goto(`${base}${route}`);
  await page.waitForSelector("body[data-ready=true]");
}

async function shot(name) {
  await page.screenshot({ path: path.join(shots, `${name}.png`) });
}

// Image coordinates of the photo canvas's on-screen point (fx, fy), fractions of its box.
async function photoPoint(fx, fy) {
  const box = await page.locator("#photo").boundingBox();
  const width = await page.locator("#photo").evaluate((c) => c.width);
  const k = width / box.width;
  return { screen: [box.x + fx * box.width, box.y + fy * box.height], image: [fx * box.width * k, fy * box.height * k] };
}

const tests = {
  async "upload a noisy photo, denoise, see the after image"() {
    await open("/restore");
    await page.setInputFiles("#file", path.join(root, "examples/noisy-photo.png"));
    await page.waitForSelector("#run:not([disabled])");
    await page.click("#run");
    await page.waitForSelector("#after:not([hidden])", { timeout: 120000 });
    const size = await page.locator("#after").evaluate((i) => [i.naturalWidth, i.naturalHeight]);
    const photo = await page.locator("#photo").evaluate((c) => [c.width, c.height]);
    assert.deepEqual(size, photo, "the restored image has the photo's size");
    assert.ok(await page.locator("#download").isVisible(), "a download link");
    await page.fill("#compare", "35");
    await page.locator("#compare").dispatchEvent("input");
    await shot("restore");
  },

  async "paint two strokes, inpaint, download: changed under the strokes only"() {
    await open("/restore");
    const upload = path.join(root, "crates/regen/tests/fixtures/photos/clean-256.png");
    await page.setInputFiles("#file", upload);
    await page.waitForSelector("#run:not([disabled])");
    await page.selectOption("#task", "inpaint");
    const radius = Number(await page.inputValue("#brush")) / 2;
    const strokes = [];
    for (const [a, b] of [[[0.2, 0.3], [0.75, 0.38]], [[0.45, 0.55], [0.5, 0.9]]]) {
      const p = await photoPoint(...a);
      const q = await photoPoint(...b);
      await page.mouse.move(...p.screen);
      await page.mouse.down();
      for (let i = 1; i <= 10; i++) {
        await page.mouse.move(p.screen[0] + ((q.screen[0] - p.screen[0]) * i) / 10, p.screen[1] + ((q.screen[1] - p.screen[1]) * i) / 10);
      }
      await page.mouse.up();
      strokes.push([p.image, q.image]);
    }
    await shot("inpaint-mask");
    await page.click("#run");
    await page.waitForSelector("#download:not([hidden])", { timeout: 120000 });
    const [download] = await Promise.all([page.waitForEvent("download"), page.click("#download")]);
    const got = fs.readFileSync(await download.path());
    const sent = fs.readFileSync(upload);
    const r = await page.evaluate(async ({ sent, got, strokes, radius }) => {
      const pixels = async (b64) => {
        const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
        const bmp = await createImageBitmap(new Blob([bytes], { type: "image/png" }));
        const c = new OffscreenCanvas(bmp.width, bmp.height);
        c.getContext("2d").drawImage(bmp, 0, 0);
        return c.getContext("2d").getImageData(0, 0, bmp.width, bmp.height);
      };
      const a = await pixels(sent);
      const b = await pixels(got);
      const dist = (x, y) => Math.min(...strokes.map(([[x0, y0], [x1, y1]]) => {
        const dx = x1 - x0, dy = y1 - y0;
        const t = Math.max(0, Math.min(1, ((x - x0) * dx + (y - y0) * dy) / (dx * dx + dy * dy)));
        return Math.hypot(x - x0 - t * dx, y - y0 - t * dy);
      }));
      const out = { size: [b.width, b.height], under: 0, underChanged: 0, elsewhere: 0, elsewhereChanged: 0 };
      for (let y = 0; y < a.height; y++) {
        for (let x = 0; x < a.width; x++) {
          const i = 4 * (y * a.width + x);
          const same = a.data[i] === b.data[i] && a.data[i + 1] === b.data[i + 1] && a.data[i + 2] === b.data[i + 2];
          const d = dist(x + 0.5, y + 0.5);
          if (d < radius * 0.5) { out.under++; if (!same) out.underChanged++; }
          if (d > radius + 2) { out.elsewhere++; if (!same) out.elsewhereChanged++; }
        }
      }
      return out;
    }, { sent: sent.toString("base64"), got: got.toString("base64"), strokes, radius });
    console.log(`    under the strokes ${r.underChanged}/${r.under} pixels changed; elsewhere ${r.elsewhereChanged}/${r.elsewhere}`);
    assert.deepEqual(r.size, [256, 256]);
    assert.ok(r.under > 500 && r.underChanged / r.under > 0.9, "the strokes' pixels were filled");
    assert.equal(r.elsewhereChanged, 0, "every pixel away from the strokes is the upload's");
    await page.fill("#compare", "0");
    await page.locator("#compare").dispatchEvent("input");
    await shot("inpaint");
  },

  async "generate 16 samples of class 3 with cgan-mnist; a VAE's in-between slider"() {
    await open("/generate");
    await page.selectOption("#gen-model", "cgan-mnist");
    await page.selectOption("#gen-class", "3");
    await page.fill("#gen-count", "16");
    await page.click("#gen-run");
    await page.waitForSelector("#gen-grid:not([hidden])");
    const size = await page.locator("#gen-grid").evaluate((i) => [i.naturalWidth, i.naturalHeight]);
    assert.deepEqual(size, [122, 122], "a 4 x 4 grid of 28-pixel samples with 2-pixel gaps");
    assert.ok(await page.locator("#between").isHidden(), "no latent slider for a GAN");
    await shot("generate");

    await page.selectOption("#gen-model", "vae-fashion");
    await page.click("#gen-run");
    await page.waitForSelector("#between:not([hidden])");
    const frames = [];
    for (const t of ["0", "0.5", "1"]) {
      await page.fill("#between-t", t);
      await page.locator("#between-t").dispatchEvent("input");
      await page.waitForFunction((old) => {
        const i = document.getElementById("between-img");
        return i.src && i.src !== old && i.complete && i.naturalWidth === 28;
      }, frames[frames.length - 1] || "");
      frames.push(await page.locator("#between-img").getAttribute("src"));
    }
    await shot("generate-vae");
  },

  async "open a run folder fixture, see its plots, and see them follow the run"() {
    await open("/runs");
    await page.click("#run-list button[data-run=gan-mnist300]");
    const caption = page.locator("figure[data-metric=d_loss] figcaption");
    await caption.waitFor();
    assert.match(await caption.textContent(), /at step 40/);
    for (const key of ["g_loss", "d_real", "d_fake", "diversity"]) {
      assert.ok(await page.locator(`figure[data-metric=${key}] canvas`).isVisible(), `${key} plotted`);
    }
    await page.waitForSelector("#run-image-view:not([hidden])");
    assert.equal(await page.inputValue("#run-image"), "samples/epoch-0004.png", "the newest sample grid");
    assert.equal(await page.locator("#run-list button").count(), 1, "folders that are no runs are not listed");
    await shot("runs");
    // The run goes on: a new record appears on the page without a reload.
    const metrics = path.join(runs, "gan-mnist300/metrics.jsonl");
    fs.appendFileSync(metrics, JSON.stringify({ step: 50, epoch: 5, d_loss: 0.9, g_loss: 1.1, d_real: 0.7, d_fake: 0.4, diversity: 0.5 }) + "\n");
    await page.waitForFunction(() => /at step 50/.test(document.querySelector("figure[data-metric=d_loss] figcaption").textContent), null, { timeout: 10000 });
  },

  async "a 4000 x 3000 photo shows its progress in tiles, restores, and a second run cancels"() {
    await open("/restore");
    await page.evaluate(async () => {
      const [w, h] = [4000, 3000];
      const c = new OffscreenCanvas(w, h);
      const ctx = c.getContext("2d");
      const g = ctx.createLinearGradient(0, 0, w, h);
      g.addColorStop(0, "#203060");
      g.addColorStop(0.5, "#c08040");
      g.addColorStop(1, "#40a070");
      ctx.fillStyle = g;
      ctx.fillRect(0, 0, w, h);
      const img = ctx.getImageData(0, 0, w, h);
      let s = 1;
      for (let i = 0; i < img.data.length; i += 4) {
        for (let k = 0; k < 3; k++) {
          s = (s * 1103515245 + 12345) >>> 0;
          img.data[i + k] = Math.max(0, Math.min(255, img.data[i + k] + ((s >>> 24) % 41) - 20));
        }
      }
      ctx.putImageData(img, 0, 0);
      const blob = await c.convertToBlob({ type: "image/png" });
      const dt = new DataTransfer();
      dt.items.add(new File([blob], "big.png", { type: "image/png" }));
      const input = document.getElementById("file");
      input.files = dt.files;
      input.dispatchEvent(new Event("change"));
    });
    await page.waitForSelector("#run:not([disabled])", { timeout: 60000 });
    assert.match(await page.textContent("#file-info"), /4000 x 3000/);

    const t0 = Date.now();
    await page.click("#run");
    await page.waitForFunction(() => /tile [1-9]\d* of \d+/.test(document.getElementById("progress-text").textContent), null, { timeout: 120000 });
    const seen = await page.textContent("#progress-text");
    await shot("progress");
    await page.waitForSelector("#after:not([hidden])", { timeout: 600000 });
    const size = await page.locator("#after").evaluate((i) => [i.naturalWidth, i.naturalHeight]);
    assert.deepEqual(size, [4000, 3000]);
    console.log(`    progress shown ("${seen}"); restored in ${((Date.now() - t0) / 1000).toFixed(1)} s`);

    await page.click("#run");
    await page.waitForFunction(() => /tile [1-9]\d* of \d+/.test(document.getElementById("progress-text").textContent), null, { timeout: 120000 });
    const t1 = Date.now();
    await page.click("#cancel");
    await page.waitForFunction(() => /Cancelled after/.test(document.getElementById("progress-text").textContent), null, { timeout: 60000 });
    const text = await page.textContent("#progress-text");
    const [done, total] = text.match(/(\d+) of (\d+)/).slice(1).map(Number);
    assert.ok(done < total, "stopped before the last tile");
    assert.ok(await page.locator("#after").isHidden(), "no result shown");
    console.log(`    cancel stopped it in ${((Date.now() - t1) / 1000).toFixed(1)} s: "${text}"`);
  },
};

let failed = 0;
for (const [name, test] of Object.entries(tests)) {
  const t0 = Date.now();
  try {
    await test();
    console.log(`ok   ${name} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
  } catch (err) {
    failed++;
    console.log(`FAIL ${name}\n     ${err.stack || err}`);
    await shot(`failed-${Object.keys(tests).indexOf(name)}`).catch(() => {});
  }
}
await browser.close();
server.kill("SIGTERM");
fs.rmSync(runs, { recursive: true, force: true });
console.log(`${Object.keys(tests).length - failed} passed, ${failed} failed; screenshots in ${shots}`);
process.exit(failed ? 1 : 0);
