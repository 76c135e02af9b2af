// Turns heights into pictures, all in the browser so the light can move
// without asking the server again: Lambertian hill-shading of a topography
// under a light of given azimuth and elevation, grey levels for a
// photograph, and a diverging colour map for a difference of two surfaces.
// Each returns an offscreen canvas of the surface's own size; no-data
// pixels stay transparent.

/**
 * Precomputes what does not depend on the light: each valid pixel's unit
 * normal. Relief on a breech face is a few micrometres over 25 µm pixels,
 * so slopes are tiny; they are exaggerated by one factor per pair (`gain`)
 * that brings the typical slope to about 30 degrees, so marks stand out
 * the way they do under a comparison microscope's oblique light.
 */
export function normals(heights, w, h, umPerPx, gain) {
  const n = w * h;
  const gx = new Float32Array(n);
  const gy = new Float32Array(n);
  const valid = new Uint8Array(n);
  let sum = 0;
  let count = 0;
  const at = (x, y) => heights[y * w + x];
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = y * w + x;
      const z = heights[i];
      if (Number.isNaN(z)) continue;
      valid[i] = 1;
      // Central differences where both neighbours exist, one-sided at a
      // no-data edge, flat where the pixel stands alone.
      const l = x > 0 ? at(x - 1, y) : NaN;
      const r = x < w - 1 ? at(x + 1, y) : NaN;
      const u = y > 0 ? at(x, y - 1) : NaN;
      const d = y < h - 1 ? at(x, y + 1) : NaN;
      gx[i] = slope(l, z, r) / umPerPx;
      gy[i] = slope(u, z, d) / umPerPx;
      sum += gx[i] * gx[i] + gy[i] * gy[i];
      count++;
    }
  }
  const rms = count ? Math.sqrt(sum / count) : 0;
  const k = gain ?? (rms > 0 ? 0.6 / rms : 1);
  const nx = new Float32Array(n);
  const ny = new Float32Array(n);
  const nz = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    if (!valid[i]) continue;
    const a = -k * gx[i];
    const b = -k * gy[i];
    const len = Math.hypot(a, b, 1);
    nx[i] = a / len;
    ny[i] = b / len;
    nz[i] = 1 / len;
  }
  return { w, h, nx, ny, nz, valid, gain: k };
}

function slope(prev, z, next) {
  const hp = !Number.isNaN(prev);
  const hn = !Number.isNaN(next);
  if (hp && hn) return (next - prev) / 2;
  if (hn) return next - z;
  if (hp) return z - prev;
  return 0;
}

/** The gain that suits a pair: both surfaces lit with the same relief. */
export function sharedGain(...surfaces) {
  let sum = 0;
  let count = 0;
  for (const s of surfaces) {
    const { heights, width: w, height: h, um_per_px: um } = s;
    for (let y = 0; y < h; y++) {
      for (let x = 1; x < w - 1; x++) {
        const i = y * w + x;
        const g = (heights[i + 1] - heights[i - 1]) / (2 * um);
        if (!Number.isNaN(g)) {
          sum += g * g;
          count++;
        }
      }
    }
  }
  // The x slopes stand for both axes (a surface has no favoured direction).
  const rms = count ? Math.sqrt((2 * sum) / count) : 0;
  return rms > 0 ? 0.6 / rms : 1;
}

/** The direction towards the light: azimuth clockwise from the top. */
function light(azimuthDeg, elevationDeg) {
  const az = (azimuthDeg * Math.PI) / 180;
  const el = (elevationDeg * Math.PI) / 180;
  return [Math.cos(el) * Math.sin(az), -Math.cos(el) * Math.cos(az), Math.sin(el)];
}

/** Shades precomputed normals into `canvas` (made if not given). */
export function shade(nrm, azimuthDeg, elevationDeg, canvas) {
  const [lx, ly, lz] = light(azimuthDeg, elevationDeg);
  const c = canvas || offscreen(nrm.w, nrm.h);
  const ctx = c.getContext("2d");
  const img = ctx.createImageData(nrm.w, nrm.h);
  const px = img.data;
  for (let i = 0; i < nrm.w * nrm.h; i++) {
    if (!nrm.valid[i]) continue;
    const lambert = Math.max(0, nrm.nx[i] * lx + nrm.ny[i] * ly + nrm.nz[i] * lz);
    // A little ambient light keeps faces turned away from going black.
    const v = Math.round(255 * Math.min(1, 0.08 + 0.92 * lambert));
    const o = 4 * i;
    px[o] = v;
    px[o + 1] = v;
    px[o + 2] = v;
    px[o + 3] = 255;
  }
  ctx.putImageData(img, 0, 0);
  return c;
}

/** A photograph's grey levels, stretched between its 1st and 99th percentile. */
export function greys(heights, w, h, canvas) {
  const [lo, hi] = percentiles(heights, 0.01, 0.99);
  const c = canvas || offscreen(w, h);
  const ctx = c.getContext("2d");
  const img = ctx.createImageData(w, h);
  const span = hi > lo ? hi - lo : 1;
  for (let i = 0; i < w * h; i++) {
    const z = heights[i];
    if (Number.isNaN(z)) continue;
    const v = Math.round(255 * Math.min(1, Math.max(0, (z - lo) / span)));
    img.data.set([v, v, v, 255], 4 * i);
  }
  ctx.putImageData(img, 0, 0);
  return c;
}

/**
 * a - b where both have data, blue where b stands higher, orange where a
 * does, dark where they agree; scaled by the 98th percentile of |a - b|.
 * Returns the canvas and that scale (for the legend).
 */
export function difference(a, b, w, h) {
  const d = new Float32Array(w * h);
  const mags = [];
  for (let i = 0; i < w * h; i++) {
    d[i] = a[i] - b[i];
    if (!Number.isNaN(d[i])) mags.push(Math.abs(d[i]));
  }
  mags.sort((x, y) => x - y);
  const scale = mags.length ? mags[Math.floor(0.98 * (mags.length - 1))] || 1 : 1;
  const c = offscreen(w, h);
  const ctx = c.getContext("2d");
  const img = ctx.createImageData(w, h);
  for (let i = 0; i < w * h; i++) {
    if (Number.isNaN(d[i])) continue;
    const t = Math.max(-1, Math.min(1, d[i] / scale));
    const base = 28;
    const o = 4 * i;
    if (t >= 0) {
      img.data[o] = base + (255 - base) * t;
      img.data[o + 1] = base + (150 - base) * t;
      img.data[o + 2] = base + (40 - base) * t;
    } else {
      img.data[o] = base + (60 - base) * -t;
      img.data[o + 1] = base + (150 - base) * -t;
      img.data[o + 2] = base + (255 - base) * -t;
    }
    img.data[o + 3] = 255;
  }
  ctx.putImageData(img, 0, 0);
  return { canvas: c, scale, valid: mags.length };
}

function percentiles(values, p, q) {
  const v = Array.from(values).filter((x) => !Number.isNaN(x)).sort((x, y) => x - y);
  if (!v.length) return [0, 1];
  return [v[Math.floor(p * (v.length - 1))], v[Math.floor(q * (v.length - 1))]];
}

export function offscreen(w, h) {
  const c = document.createElement("canvas");
  c.width = w;
  c.height = h;
  return c;
}
