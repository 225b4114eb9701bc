#!/usr/bin/env node
// Draws the app and tray icons into build/ (committed; run again only to change them):
//   tray-<state>.png + @2x (Linux, Windows fallback), tray-<state>Template.png + @2x (macOS menu bar,
//   black + alpha so macOS tints it), tray-<state>.ico (Windows), icon.png 512, icon.ico 256 and icon.icns
//   1024 (installers; Forge and electron-builder take the .icns on macOS).
// States: idle (OK), running, failed, stale. Plain shapes, antialiased by supersampling, encoded as PNG with zlib.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import zlib from 'node:zlib';

const out = join(import.meta.dirname, '..', 'build');
mkdirSync(out, { recursive: true });

// ---- shapes in a unit square (0..1), each a function (x, y) -> inside? -----------------------------
/** @typedef {(x: number, y: number) => boolean} Shape */
/** @typedef {[number, number, number]} Rgb */
/** @type {(cx: number, cy: number, r: number) => Shape} */
const circle = (cx, cy, r) => (x, y) => (x - cx) ** 2 + (y - cy) ** 2 <= r * r;
/** @type {(cx: number, cy: number, r: number, w: number, gapFrom?: number, gapTo?: number) => Shape} */
const ring = (cx, cy, r, w, gapFrom = 0, gapTo = 0) => (x, y) => {
  const d = Math.hypot(x - cx, y - cy);
  if (Math.abs(d - r) > w / 2) return false;
  const a = (Math.atan2(y - cy, x - cx) * 180) / Math.PI + 180; // 0..360
  return !(a >= gapFrom && a <= gapTo);
};
/** @type {(x1: number, y1: number, x2: number, y2: number, w: number) => Shape} */
const segment = (x1, y1, x2, y2, w) => (x, y) => {
  const dx = x2 - x1, dy = y2 - y1;
  const t = Math.max(0, Math.min(1, ((x - x1) * dx + (y - y1) * dy) / (dx * dx + dy * dy)));
  return Math.hypot(x - (x1 + t * dx), y - (y1 + t * dy)) <= w / 2;
};
/** @type {(m: number, r: number) => Shape} */
const roundedSquare = (m, r) => (x, y) => {
  const qx = Math.max(Math.abs(x - 0.5) - (0.5 - m - r), 0), qy = Math.max(Math.abs(y - 0.5) - (0.5 - m - r), 0);
  return Math.hypot(qx, qy) <= r;
};
/** @type {(...shapes: Shape[]) => Shape} */
const any = (...shapes) => (x, y) => shapes.some((s) => s(x, y));
/** @type {(ax: number, ay: number, bx: number, by: number, cx: number, cy: number) => Shape} */
const triangle = (ax, ay, bx, by, cx, cy) => (x, y) => {
  /** @type {(px: number, py: number, qx: number, qy: number) => number} */
  const s = (px, py, qx, qy) => (x - qx) * (py - qy) - (px - qx) * (y - qy);
  const d1 = s(ax, ay, bx, by), d2 = s(bx, by, cx, cy), d3 = s(cx, cy, ax, ay);
  return !((d1 < 0 || d2 < 0 || d3 < 0) && (d1 > 0 || d2 > 0 || d3 > 0));
};

const glyphs = {
  idle: any(segment(0.3, 0.52, 0.44, 0.66, 0.11), segment(0.44, 0.66, 0.71, 0.36, 0.11)),
  running: any(ring(0.5, 0.5, 0.22, 0.1, 150, 210), triangle(0.14, 0.5, 0.42, 0.5, 0.28, 0.68)),
  failed: any(segment(0.34, 0.34, 0.66, 0.66, 0.11), segment(0.66, 0.34, 0.34, 0.66, 0.11)),
  stale: any(segment(0.5, 0.27, 0.5, 0.56, 0.12), circle(0.5, 0.72, 0.07)),
};
/** @type {Record<string, Rgb>} */
const colours = { idle: [46, 157, 91], running: [47, 111, 219], failed: [217, 58, 58], stale: [224, 160, 32] };

// ---- rasteriser and encoders ---------------------------------------------------------------------
/**
 * layers: [[shape, [r,g,b]], …] painted in order; 4x4 supersampling for smooth edges.
 * @param {number} size
 * @param {Array<[Shape, Rgb]>} layers
 */
function raster(size, layers) {
  const px = Buffer.alloc(size * size * 4);
  const n = 4;
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      let r = 0, g = 0, b = 0, a = 0;
      for (let sy = 0; sy < n; sy++) {
        for (let sx = 0; sx < n; sx++) {
          const u = (x + (sx + 0.5) / n) / size, v = (y + (sy + 0.5) / n) / size;
          /** @type {Rgb | null} */
          let colour = null;
          for (const [shape, c] of layers) if (shape(u, v)) colour = c;
          if (colour) {
            r += colour[0];
            g += colour[1];
            b += colour[2];
            a += 1;
          }
        }
      }
      const i = (y * size + x) * 4;
      if (a) {
        px[i] = r / a;
        px[i + 1] = g / a;
        px[i + 2] = b / a;
        px[i + 3] = (255 * a) / (n * n);
      }
    }
  }
  return px;
}

/**
 * @param {number} size
 * @param {Buffer} rgba
 */
function png(size, rgba) {
  /** @type {(type: string, data: Buffer) => Buffer} */
  const chunk = (type, data) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(zlib.crc32(body));
    return Buffer.concat([len, body, crc]);
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(size, 0);
  header.writeUInt32BE(size, 4);
  header.set([8, 6, 0, 0, 0], 8); // 8-bit RGBA
  const rows = Buffer.alloc(size * (size * 4 + 1));
  for (let y = 0; y < size; y++) rgba.copy(rows, y * (size * 4 + 1) + 1, y * size * 4, (y + 1) * size * 4);
  return Buffer.concat([Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]), chunk('IHDR', header), chunk('IDAT', zlib.deflateSync(rows, { level: 9 })), chunk('IEND', Buffer.alloc(0))]);
}

/**
 * ICO with PNG-compressed images (Windows Vista and later).
 * @param {Array<{ size: number, data: Buffer }>} images
 */
function ico(images) {
  const header = Buffer.alloc(6 + 16 * images.length);
  header.writeUInt16LE(1, 2);
  header.writeUInt16LE(images.length, 4);
  let offset = header.length;
  images.forEach(({ size, data }, i) => {
    const e = 6 + 16 * i;
    header[e] = size >= 256 ? 0 : size;
    header[e + 1] = size >= 256 ? 0 : size;
    header.writeUInt16LE(1, e + 4);
    header.writeUInt16LE(32, e + 6);
    header.writeUInt32LE(data.length, e + 8);
    header.writeUInt32LE(offset, e + 12);
    offset += data.length;
  });
  return Buffer.concat([header, ...images.map((i) => i.data)]);
}

/**
 * ICNS with PNG images, each an entry of a 4-character type and its length (big-endian).
 * @param {Array<{ type: string, data: Buffer }>} images
 */
function icns(images) {
  const entries = images.map(({ type, data }) => {
    const head = Buffer.alloc(8);
    head.write(type, 0, 'ascii');
    head.writeUInt32BE(8 + data.length, 4);
    return Buffer.concat([head, data]);
  });
  const head = Buffer.alloc(8);
  head.write('icns', 0, 'ascii');
  head.writeUInt32BE(8 + entries.reduce((sum, e) => sum + e.length, 0), 4);
  return Buffer.concat([head, ...entries]);
}

/** @type {(name: string, data: Buffer) => void} */
const write = (name, data) => writeFileSync(join(out, name), data);
/** @type {Rgb} */
const WHITE = [255, 255, 255];
/** @type {Rgb} */
const BLACK = [0, 0, 0];

for (const [state, glyph] of Object.entries(glyphs)) {
  const colour = /** @type {Rgb} */ (colours[state]);
  const coloured = (/** @type {number} */ size) => png(size, raster(size, [[circle(0.5, 0.5, 0.47), colour], [glyph, WHITE]]));
  // Template: a black ring with the black glyph; the menu bar supplies the colour.
  const template = (/** @type {number} */ size) => png(size, raster(size, [[any(ring(0.5, 0.5, 0.42, 0.09), glyph), BLACK]]));
  write(`tray-${state}.png`, coloured(16));
  write(`tray-${state}@2x.png`, coloured(32));
  write(`tray-${state}Template.png`, template(16));
  write(`tray-${state}Template@2x.png`, template(32));
  write(`tray-${state}.ico`, ico([16, 24, 32].map((size) => ({ size, data: coloured(size) }))));
}

const appIcon = (/** @type {number} */ size) =>
  png(size, raster(size, [[roundedSquare(0.06, 0.18), [24, 44, 78]], [ring(0.5, 0.5, 0.28, 0.07), [120, 200, 255]], [glyphs.idle, [110, 230, 160]]]));
write('icon.png', appIcon(512));
write('icon.ico', ico([16, 32, 48, 256].map((size) => ({ size, data: appIcon(size) }))));
// ic07..ic10: 128, 256, 512 and 1024 (512@2x) pixels.
/** @type {Array<[string, number]>} */
const icnsSizes = [['ic07', 128], ['ic08', 256], ['ic09', 512], ['ic10', 1024]];
write('icon.icns', icns(icnsSizes.map(([type, size]) => ({ type, data: appIcon(size) }))));
console.log(`icons written to ${out}`);
