// A pane that shows one surface picture (or two, split by a swipe line)
// on a visible canvas, under a zoom and pan shared with the other panes,
// with the comparison's cells drawn on top. Panes only draw: what to draw
// comes from compare.js.

const CONGRUENT = "#39d98a";
const OTHER = "#f0a640";
const SELECTED = "#ffffff";

/** The zoom and pan every pane of one comparison follows. */
export class LinkedView {
  constructor(size, cssSize) {
    this.size = size; // the surfaces' side in pixels
    this.cssSize = cssSize;
    this.panes = [];
    this.reset();
  }

  reset() {
    this.scale = this.cssSize / this.size;
    this.tx = 0;
    this.ty = 0;
    this.redraw();
  }

  /** Zooms by `factor` keeping the surface point under (px, py) still. */
  zoomAt(px, py, factor) {
    const fit = this.cssSize / this.size;
    const next = Math.min(fit * 24, Math.max(fit * 0.5, this.scale * factor));
    const f = next / this.scale;
    this.tx = px - (px - this.tx) * f;
    this.ty = py - (py - this.ty) * f;
    this.scale = next;
    this.redraw();
  }

  pan(dx, dy) {
    this.tx += dx;
    this.ty += dy;
    this.redraw();
  }

  /** Surface pixel under a point of the pane, in pane CSS pixels. */
  toSurface(px, py) {
    return [(px - this.tx) / this.scale, (py - this.ty) / this.scale];
  }

  redraw() {
    for (const p of this.panes) p.draw();
  }
}

export class Pane {
  /**
   * `layers()` gives {left, right?, split?} offscreen canvases to draw;
   * `cells()` the cells with geometry in surface pixels and the selection.
   */
  constructor(view, canvas, { layers, cells, onHover, onPick, onSplit }) {
    this.view = view;
    this.canvas = canvas;
    this.layers = layers;
    this.cells = cells;
    this.onHover = onHover;
    this.onPick = onPick;
    this.onSplit = onSplit;
    const dpr = window.devicePixelRatio || 1;
    canvas.width = Math.round(view.cssSize * dpr);
    canvas.height = Math.round(view.cssSize * dpr);
    this.dpr = dpr;
    view.panes.push(this);
    this.listen();
  }

  draw() {
    const { canvas, view, dpr } = this;
    const ctx = canvas.getContext("2d");
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    const l = this.layers();
    if (!l) return;
    ctx.setTransform(dpr * view.scale, 0, 0, dpr * view.scale, dpr * view.tx, dpr * view.ty);
    // Smooth at overview zoom; raw pixels once they are large enough to
    // be told apart, which is what an examiner zooms in for.
    ctx.imageSmoothingEnabled = view.scale * dpr < 6;
    const size = view.size;
    if (l.right && l.split !== undefined) {
      const cut = l.split * size;
      ctx.drawImage(l.left, 0, 0, cut, size, 0, 0, cut, size);
      ctx.drawImage(l.right, cut, 0, size - cut, size, cut, 0, size - cut, size);
    } else {
      ctx.drawImage(l.left, 0, 0);
    }
    this.drawCells(ctx);
    if (l.right && l.split !== undefined) {
      ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
      const x = view.tx + l.split * size * view.scale;
      ctx.strokeStyle = "#7fb4ff";
      ctx.lineWidth = 2;
      ctx.beginPath();
      ctx.moveTo(x, 0);
      ctx.lineTo(x, view.cssSize);
      ctx.stroke();
      ctx.fillStyle = "#7fb4ff";
      ctx.fillRect(x - 5, view.cssSize / 2 - 14, 10, 28);
    }
  }

  drawCells(ctx) {
    const c = this.cells();
    if (!c || !c.show) return;
    const lw = 1.5 / this.view.scale;
    for (const cell of c.list) {
      const sel = c.selected === cell || c.hovered === cell;
      ctx.lineWidth = sel ? 2.5 * lw : lw;
      ctx.strokeStyle = sel ? SELECTED : cell.congruent ? CONGRUENT : OTHER;
      ctx.setLineDash(cell.congruent || sel ? [] : [4 * lw, 3 * lw]);
      ctx.strokeRect(cell.x, cell.y, cell.w, cell.h);
    }
    ctx.setLineDash([]);
  }

  cellAt(ev) {
    const c = this.cells();
    if (!c || !c.show) return null;
    const [x, y] = this.point(ev);
    return c.list.find((k) => x >= k.x && x < k.x + k.w && y >= k.y && y < k.y + k.h) || null;
  }

  point(ev) {
    const r = this.canvas.getBoundingClientRect();
    const k = this.view.cssSize / r.width;
    return this.view.toSurface((ev.clientX - r.left) * k, (ev.clientY - r.top) * k);
  }

  local(ev) {
    const r = this.canvas.getBoundingClientRect();
    const k = this.view.cssSize / r.width;
    return [(ev.clientX - r.left) * k, (ev.clientY - r.top) * k];
  }

  listen() {
    const c = this.canvas;
    c.addEventListener("wheel", (ev) => {
      ev.preventDefault();
      const [px, py] = this.local(ev);
      this.view.zoomAt(px, py, Math.exp(-ev.deltaY * 0.0015));
    }, { passive: false });
    let drag = null;
    c.addEventListener("pointerdown", (ev) => {
      const [px] = this.local(ev);
      const l = this.layers();
      const onLine = l && l.split !== undefined &&
        Math.abs(px - (this.view.tx + l.split * this.view.size * this.view.scale)) < 8;
      drag = { x: ev.clientX, y: ev.clientY, moved: false, split: onLine };
      c.setPointerCapture(ev.pointerId);
    });
    c.addEventListener("pointermove", (ev) => {
      if (!drag) {
        this.onHover(this.cellAt(ev), ev);
        return;
      }
      const dx = ev.clientX - drag.x;
      const dy = ev.clientY - drag.y;
      if (Math.abs(dx) + Math.abs(dy) > 2) drag.moved = true;
      if (drag.split) {
        const [x] = this.point(ev);
        this.onSplit(Math.min(1, Math.max(0, x / this.view.size)));
      } else {
        const k = this.view.cssSize / c.getBoundingClientRect().width;
        this.view.pan(dx * k, dy * k);
      }
      drag.x = ev.clientX;
      drag.y = ev.clientY;
    });
    c.addEventListener("pointerup", (ev) => {
      if (drag && !drag.moved) this.onPick(this.cellAt(ev));
      drag = null;
    });
    c.addEventListener("pointerleave", () => this.onHover(null));
    c.addEventListener("dblclick", () => this.view.reset());
  }
}
